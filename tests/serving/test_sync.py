"""The sync sidecar (``serving.sync``) against a real TorchServe and moto's S3 server: a served set in the
bucket is made true on the server pass by pass -- a new version registered from its archive (SHA-256
checked), the default set when the set says so, a version no longer listed unregistered (never the
default), a missing or unreadable pointer survived (the server keeps what it serves) -- and the readiness
gate (``sync-check``) says ready only while the server serves the set's default."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from tests.helpers import REPO
from tests.pipeline_support import TorchServeInstance, checkpoint_version, tiny_checkpoint

pytestmark = pytest.mark.integration
BUCKET = "gait-sync-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A TorchServe of its own (the sync unregisters what its set does not list)."""
    ckpt = tiny_checkpoint(tmp_path_factory.mktemp("sync-ckpt"), seed=0, run_id="sync-v1")
    ts = TorchServeInstance(tmp_path_factory.mktemp("sync-ts"), ckpt).start()
    yield ts
    ts.stop()


@pytest.fixture
def s3(moto_s3, monkeypatch):
    import boto3

    for k, v in {"GAIT_S3_ENDPOINT_URL": moto_s3, "GAIT_S3_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing", "GAIT_STORAGE": "s3", "GAIT_S3_BUCKET": BUCKET}.items():
        monkeypatch.setenv(k, v)
    client = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return client


def _versions(m) -> set[str]:
    return {v["modelVersion"] for v in m.versions("gaitmae")}


def test_sync_follows_the_served_set(server, s3, tmp_path):
    from serving import served as served_set
    from serving.archive import build_archive
    from serving.client import TorchServeClient
    from serving.management import ManagementClient
    from serving.sync import Syncer, check

    v1 = server.version
    ck2 = tiny_checkpoint(tmp_path / "c2", seed=2, run_id="sync-v2")
    ck3 = tiny_checkpoint(tmp_path / "c3", seed=3, run_id="sync-v3")
    a2, v2 = build_archive(ck2, tmp_path / "mar")
    a3, v3 = build_archive(ck3, tmp_path / "mar")
    pointer = "models/gaitmae/served.json"  # a key of the platform's storage (GAIT_STORAGE=s3)
    store, key = served_set.pointer_store(pointer)
    assert store.url == f"s3://{BUCKET}/models/gaitmae" and key == "served.json"
    s3.delete_object(Bucket=BUCKET, Key=f"models/gaitmae/{key}")
    m = ManagementClient(server.cfg.management_url)
    run_dir = server.cfg.run_dir
    sync = Syncer(pointer, m, run_dir, batch_size=4, max_batch_delay_ms=10, workers=1)
    default = TorchServeClient(server.url)

    # no served set yet: nothing changes, the pod is ready on what it loaded at start
    assert check(run_dir) == (False, f"no sync status yet ([Errno 2] No such file or directory: "
                                     f"'{run_dir / 'sync-status.json'}')")
    r = sync.run_once()
    assert r["errors"] == [] and r["actions"] == [] and _versions(m) == {v1}
    assert check(run_dir)[0] and check(run_dir, live_only=True)[0]

    # a second version listed: downloaded, SHA-256 checked, registered -- not default
    e1 = served_set.archive_entry(store, server.archive)
    e2 = served_set.archive_entry(store, a2)
    served_set.write(store, key, {"model": "gaitmae", "default": v1, "versions": {v1: e1, v2: e2}})
    r = sync.run_once()
    assert r["errors"] == [] and r["actions"] == [f"registered {v2}"], r
    assert _versions(m) == {v1, v2} and m.default_version("gaitmae") == v1
    assert (run_dir / "model-store" / a2.name).read_bytes() == a2.read_bytes()
    assert default.describe()["model_version"] == checkpoint_version(server.checkpoint)
    assert TorchServeClient(server.url, version=v2).describe()["model_version"] == checkpoint_version(ck2)
    desc = next(d for d in m.versions("gaitmae") if d["modelVersion"] == v2)
    assert desc["batchSize"] == 4 and desc["minWorkers"] == 1
    assert sync.run_once()["actions"] == []  # converged: a pass changes nothing

    # the set's default moves: the server's default follows
    served_set.write(store, key, {"model": "gaitmae", "default": v2, "versions": {v1: e1, v2: e2}})
    st = json.loads((run_dir / "sync-status.json").read_text())
    assert st["served_default"] == v1
    r = sync.run_once()
    assert r["actions"] == [f"default {v1} -> {v2}"] and r["errors"] == []
    assert default.describe()["model_version"] == checkpoint_version(ck2)
    assert check(run_dir) == (True, f"serving the default {v2}")

    # v1 leaves the set: unregistered, its archive deleted from the pod's store
    served_set.write(store, key, {"model": "gaitmae", "default": v2, "versions": {v2: e2}})
    r = sync.run_once()
    assert r["actions"] == [f"unregistered {v1}"] and _versions(m) == {v2}
    assert not (run_dir / "model-store" / server.archive.name).exists()

    # a version whose archive does not match its recorded SHA-256 is refused, the others go on; a
    # default the pod cannot serve makes it not ready (and it keeps serving its default)
    e3 = served_set.archive_entry(store, a3) | {"sha256": "0" * 64}
    served_set.write(store, key, {"model": "gaitmae", "default": v3, "versions": {v2: e2, v3: e3}})
    r = sync.run_once()
    assert any("SHA-256" in e for e in r["errors"]) and _versions(m) == {v2}
    assert m.default_version("gaitmae") == v2
    ok, why = check(run_dir)
    assert not ok and why == f"serving {v2}, the served set's default is {v3}"

    # an unreadable pointer (torn / foreign object): nothing changes, the last set read still decides
    served_set.write(store, key, {"model": "gaitmae", "default": v2, "versions": {v2: e2}})
    sync.run_once()
    s3.put_object(Bucket=BUCKET, Key=f"models/gaitmae/{key}", Body=b"{not json")
    r = sync.run_once()
    assert any("pointer unreadable" in e for e in r["errors"]) and r["actions"] == []
    assert _versions(m) == {v2} and check(run_dir)[0]
    # storage unreachable: the same
    sync.store.client = __import__("boto3").client("s3", endpoint_url="http://127.0.0.1:9",
                                                   region_name="us-east-1")
    r = sync.run_once()
    assert any("pointer unreadable" in e for e in r["errors"]) and _versions(m) == {v2} and check(run_dir)[0]

    sync.store = served_set.pointer_store(pointer)[0]  # storage back

    # the command the sidecar runs: one pass from the CLI (v3 listed again, correctly this time), then the probe
    served_set.write(store, key, {"model": "gaitmae", "default": v3,
                                  "versions": {v2: e2, v3: served_set.archive_entry(store, a3)}})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "serving", "sync", "--once", "--pointer", pointer, "--run-dir",
                          str(run_dir), "--management-url", server.cfg.management_url, "--no-token-auth",
                          "--batch-size", "4"], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["actions"] == [f"registered {v3}", f"default {v2} -> {v3}"] and report["errors"] == []
    assert default.describe()["model_version"] == checkpoint_version(ck3)
    probe = [sys.executable, "-m", "serving", "sync-check", "--run-dir", str(run_dir)]
    ready = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert ready.returncode == 0 and ready.stdout.strip() == f"serving the default {v3}"
    m.set_default("gaitmae", v2)  # the server drifted from the set (someone used the management API)
    sync.run_once()  # ... the next pass puts it back
    assert m.default_version("gaitmae") == v3
    requests.get(server.url + "/ping", timeout=10).raise_for_status()


def test_served_set_format_and_where_the_pointer_lives(tmp_path, monkeypatch):
    from serving import served as served_set

    monkeypatch.setenv("GAIT_STORAGE", "local")
    monkeypatch.setenv("GAIT_MEDIA_ROOT", str(tmp_path / "media"))
    store, key = served_set.pointer_store("models/gaitmae/served.json")
    assert (store.url, key) == (str(tmp_path / "media" / "models" / "gaitmae"), "served.json")
    assert served_set.pointer_store(f"file://{tmp_path}/p/served.json")[0].url == f"{tmp_path}/p"
    assert served_set.pointer_store("s3://b/models/served.json")[0].url == "s3://b/models"
    assert served_set.read(store, key) is None
    with pytest.raises(served_set.PointerError, match="not one of its versions"):  # never written
        served_set.write(store, key, {"default": "v9", "versions": {"v1": {"archive": "a.mar"}}})
    assert served_set.read(store, key) is None
    out = served_set.write(store, key, {"model": "gaitmae", "default": "v1", "versions": {"v1": {"archive": "a.mar"}}})
    assert served_set.read(store, key) == out and out["written_at"] > 0
    for raw, why in ((b"[]", "not a served set"), (b'{"versions": {"v1": {}}}', "names no archive")):
        with pytest.raises(served_set.PointerError, match=why):
            served_set.parse(raw)
    monkeypatch.setenv("GAIT_STORAGE", "s3")
    monkeypatch.delenv("GAIT_S3_BUCKET", raising=False)
    with pytest.raises(served_set.PointerError, match="GAIT_S3_BUCKET"):
        served_set.pointer_store("models/gaitmae/served.json")
