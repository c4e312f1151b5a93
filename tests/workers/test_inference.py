"""The workers configure serving's inference client from their Django settings (and read the registry's
default encoder: none here, so the configured one answers)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from serving.client import InferenceConfig, TorchServeClient
from workers.inference import get_client, inference_config


@pytest.mark.django_db
def test_inference_config_comes_from_the_django_settings():
    with override_settings(INFERENCE_BACKEND="torchserve", TORCHSERVE_URL="http://127.0.0.1:2",
                           TORCHSERVE_TOKEN_FILE="", MODEL_CHECKPOINT="/m.pt"):
        assert inference_config() == InferenceConfig("torchserve", "http://127.0.0.1:2", "", "/m.pt")
        client = get_client()
    assert isinstance(client, TorchServeClient)
    with override_settings(INFERENCE_BACKEND="inprocess", MODEL_CHECKPOINT="/other.pt"):
        assert inference_config() == InferenceConfig("inprocess", "", "", "/other.pt")
