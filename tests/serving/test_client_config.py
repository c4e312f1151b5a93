"""How serving.client picks its backend: from an InferenceConfig, or the GAIT_* environment (never Django)."""

from __future__ import annotations

from serving.client import InferenceConfig, InProcessClient, TorchServeClient, get_client


def test_config_from_env_defaults_to_inprocess_and_reads_the_gait_variables():
    assert InferenceConfig.from_env({}) == InferenceConfig(backend="inprocess")
    env = {"GAIT_INFERENCE_BACKEND": "torchserve", "GAIT_TORCHSERVE_URL": "http://127.0.0.1:8380",
           "GAIT_TORCHSERVE_TOKEN_FILE": "/run/key_file.json", "GAIT_MODEL_CHECKPOINT": "/m.pt"}
    assert InferenceConfig.from_env(env) == InferenceConfig("torchserve", "http://127.0.0.1:8380",
                                                            "/run/key_file.json", "/m.pt")


def test_get_client_follows_the_config_and_keeps_one_client_per_configuration(monkeypatch):
    ts = InferenceConfig(backend="torchserve", torchserve_url="http://127.0.0.1:1")
    client = get_client(config=ts)
    assert isinstance(client, TorchServeClient)
    assert get_client(config=ts) is client
    assert get_client("v2", config=ts) is not client
    monkeypatch.setenv("GAIT_INFERENCE_BACKEND", "inprocess")
    monkeypatch.setenv("GAIT_MODEL_CHECKPOINT", "/nowhere/tiny.pt")  # nothing loads until the first call
    assert isinstance(get_client(), InProcessClient)
