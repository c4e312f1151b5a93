"""The workers' inference client: ``serving.client.get_client`` configured from the Django settings
(``INFERENCE_BACKEND``, ``TORCHSERVE_URL``, ``TORCHSERVE_TOKEN_FILE``, ``MODEL_CHECKPOINT``, read from the
``GAIT_*`` environment and validated by ``gaitsite.settings``). Serving itself never imports Django.

Which encoder answers (``get_client(version)``):

* ``version`` given (a backfill of a rollout): that registered encoder version -- TorchServe's
  ``/predictions/gaitmae/<version>``, or in process its checkpoint (``workers.encoders.checkpoint_file``);
* no version: the registry's default encoder when a rollout made one (``workers.encoders.live_encoder``),
  else the configured one (TorchServe's default version, or ``GAIT_MODEL_CHECKPOINT`` / the shipped file).
"""

from __future__ import annotations

import dataclasses

from django.conf import settings

from serving.client import InferenceClient, InferenceConfig
from serving.client import get_client as _serving_client

from .encoders import checkpoint_file, live_encoder, torchserve_version


def inference_config() -> InferenceConfig:
    return InferenceConfig(backend=getattr(settings, "INFERENCE_BACKEND", "inprocess"),
                           torchserve_url=getattr(settings, "TORCHSERVE_URL", ""),
                           token_file=getattr(settings, "TORCHSERVE_TOKEN_FILE", "") or "",
                           checkpoint=getattr(settings, "MODEL_CHECKPOINT", "") or "")


def get_client(version: str | None = None) -> InferenceClient:
    from registry.models import EncoderVersion

    cfg = inference_config()
    enc = live_encoder() if version is None else EncoderVersion.objects.filter(version_tag=version).first()
    if enc is None:
        return _serving_client(None, cfg) if version is None else _configured(cfg, version)
    if cfg.backend == "torchserve":
        return _serving_client(torchserve_version(enc.version_tag), cfg)
    if not enc.artifact_uri:  # registered without a file: only the configured checkpoint can be it
        return _configured(cfg, enc.version_tag)
    return _serving_client(None, dataclasses.replace(cfg, checkpoint=str(checkpoint_file(enc))))


def _configured(cfg: InferenceConfig, version: str) -> InferenceClient:
    client = _serving_client(None, cfg)
    if client.model_version() != version:
        raise LookupError(f"encoder version {version} has no artifact and is not the configured checkpoint "
                          f"({client.model_version()})")
    return client
