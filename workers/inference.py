"""The workers' inference client: ``serving.client.get_client`` configured from the Django settings
(``INFERENCE_BACKEND``, ``TORCHSERVE_URL``, ``TORCHSERVE_TOKEN_FILE``, ``MODEL_CHECKPOINT``, read from the
``GAIT_*`` environment and validated by ``gaitsite.settings``). Serving itself never imports Django."""

from __future__ import annotations

from django.conf import settings

from serving.client import InferenceClient, InferenceConfig
from serving.client import get_client as _serving_client


def inference_config() -> InferenceConfig:
    return InferenceConfig(backend=getattr(settings, "INFERENCE_BACKEND", "inprocess"),
                           torchserve_url=getattr(settings, "TORCHSERVE_URL", ""),
                           token_file=getattr(settings, "TORCHSERVE_TOKEN_FILE", "") or "",
                           checkpoint=getattr(settings, "MODEL_CHECKPOINT", "") or "")


def get_client(version: str | None = None) -> InferenceClient:
    return _serving_client(version, inference_config())
