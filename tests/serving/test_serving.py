"""TorchServe (started on loopback by a fixture) against the in-process client, on the same checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from serving.client import InferenceError, InferenceUnavailable, InProcessClient, TorchServeClient
from serving.config import ServeConfig
from serving.management import ManagementClient
from serving.wire import decode_npy, encode_npy
from tests.pipeline_support import checkpoint_version, tiny_checkpoint
from tests.services import free_port


def windows(lengths=(900, 900, 450, 900, 120), seed=0):
    rng = np.random.default_rng(seed)
    ws = [rng.normal(0, 0.4, size=(t, 26, 4)).astype(np.float32) for t in lengths]
    obs = [rng.random((t, 26)) > 0.1 for t in lengths]
    for w, o in zip(ws, obs, strict=True):
        w[..., 3] = np.abs(w[..., 3])
        w[~o] = 0
    return ws, obs


def test_wire_round_trip():
    ws, obs = windows((30, 30))
    x, o = decode_npy(encode_npy(np.stack(ws), np.stack(obs)))
    assert np.array_equal(x, np.stack(ws)) and np.array_equal(o, np.stack(obs))


def test_config_defaults_are_loopback_with_token_auth(tmp_path):
    text = ServeConfig(run_dir=tmp_path).render()
    assert "inference_address=http://127.0.0.1:8380" in text
    assert "disable_token_authorization=false" in text
    assert "vmargs=-Xmx512m" in text and "default_response_timeout=120" in text


@pytest.mark.integration
def test_torchserve_and_inprocess_give_the_same_outputs(torchserve, tiny_ckpt):
    ws, obs = windows()
    ts = TorchServeClient(torchserve.url)
    local = InProcessClient(str(tiny_ckpt))
    a, b = ts.embed(ws, obs), local.embed(ws, obs)
    assert a.model_version == b.model_version == checkpoint_version(tiny_ckpt)
    assert a.embeddings.shape == (5, 256)
    assert float(np.abs(a.embeddings - b.embeddings).max()) < 1e-4
    assert float(np.abs(a.reconstruction_error - b.reconstruction_error).max()) < 1e-4
    assert ts.describe()["embedding_dim"] == 256


@pytest.mark.integration
def test_requests_are_split_under_the_size_limit(torchserve, tiny_ckpt):
    ws, obs = windows((900,) * 7)
    client = TorchServeClient(torchserve.url, windows_per_request=8, max_request_bytes=3 * 900 * 26 * 5 * 4 + 2048)
    plan = client.plan_requests(ws)
    assert [len(p) for p in plan] == [3, 3, 1]
    got = client.embed(ws, obs)
    ref = InProcessClient(str(tiny_ckpt)).embed(ws, obs)
    assert float(np.abs(got.embeddings - ref.embeddings).max()) < 1e-4


@pytest.mark.integration
def test_json_requests_and_bad_requests(torchserve, tiny_ckpt):
    ws, obs = windows((60,))
    r = requests.post(f"{torchserve.url}/predictions/gaitmae", data=json.dumps(
        {"x": ws[0].tolist(), "observed": obs[0].astype(int).tolist()}), headers={"Content-Type": "application/json"},
        timeout=30)
    assert r.status_code == 200, r.text
    ref = InProcessClient(str(tiny_ckpt)).embed(ws, obs)
    assert float(np.abs(np.asarray(r.json()["embeddings"]) - ref.embeddings).max()) < 1e-4
    bad = TorchServeClient(torchserve.url)
    with pytest.raises(InferenceError):
        bad._post(b"\x93NUMPY not really", "application/x-npy")


def test_unreachable_server_is_transient():
    client = TorchServeClient(f"http://127.0.0.1:{free_port()}", connect_timeout=1)
    ws, obs = windows((30,))
    with pytest.raises(InferenceUnavailable):
        client.embed(ws, obs)


@pytest.mark.integration
def test_register_set_default_and_roll_back(torchserve, tmp_path):
    from serving.archive import build_archive

    second = tiny_checkpoint(tmp_path, seed=1, run_id="test-tiny-2")
    archive, version = build_archive(second, torchserve.cfg.model_store)
    m = ManagementClient(torchserve.cfg.management_url, history_file=tmp_path / "defaults.json")
    m.register(archive.name, model_name="gaitmae", batch_size=8, max_batch_delay_ms=10)
    try:
        m.set_default("gaitmae", version)
        assert TorchServeClient(torchserve.url).model_version() == checkpoint_version(second)
        assert m.rollback("gaitmae") == torchserve.version
        assert TorchServeClient(torchserve.url).model_version() == checkpoint_version(torchserve.checkpoint)
        pinned = TorchServeClient(torchserve.url, version=version)
        assert pinned.model_version() == checkpoint_version(second)
    finally:
        m.set_default("gaitmae", torchserve.version)
        m.unregister("gaitmae", version)


@pytest.mark.integration
def test_token_authorisation_with_keys_read_from_the_key_file(tmp_path, tiny_ckpt):
    """Production mode: token auth on; the clients read TorchServe's key_file.json."""
    from serving import server
    from serving.archive import build_archive
    from tests.pipeline_support import require_java

    require_java()
    cfg = ServeConfig(run_dir=tmp_path, inference_port=free_port(), management_port=free_port(),
                      metrics_port=free_port(), grpc_inference_port=free_port(), grpc_management_port=free_port(),
                      token_auth=True)
    archive, version = build_archive(tiny_ckpt, cfg.model_store)
    server.start(cfg)
    try:
        assert cfg.key_file.exists()
        with pytest.raises(Exception, match="40[01]"):
            ManagementClient(cfg.management_url).register(archive.name, model_name="gaitmae")
        m = ManagementClient(cfg.management_url, token_file=str(cfg.key_file), state_file=server.state_file(tmp_path))
        m.register(archive.name, model_name="gaitmae", batch_size=8, max_batch_delay_ms=10, version=version)
        m.set_default("gaitmae", version)
        ws, obs = windows((60,))
        with pytest.raises(InferenceUnavailable, match="key"):
            TorchServeClient(cfg.inference_url).embed(ws, obs)
        got = TorchServeClient(cfg.inference_url, token_file=str(cfg.key_file)).embed(ws, obs)
        assert got.model_version == checkpoint_version(tiny_ckpt)
        # a restart (`serving start`) registers again what the instance served, with its default
        server.stop(tmp_path)
        server.start(cfg)
        m = ManagementClient(cfg.management_url, token_file=str(cfg.key_file))
        assert m.default_version("gaitmae") == version
        again = TorchServeClient(cfg.inference_url, token_file=str(cfg.key_file)).embed(ws, obs)
        np.testing.assert_allclose(again.embeddings, got.embeddings, rtol=1e-5, atol=1e-6)
    finally:
        server.stop(tmp_path)
