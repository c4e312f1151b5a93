"""A rollout's inference steps in cluster mode (``GAIT_TORCHSERVE_SERVED_POINTER``): the worker never calls
TorchServe's management API; it writes the served set (archives + pointer in a storage folder) and a real
TorchServe follows it through its sync sidecar's loop (``serving.sync``, in a thread here, as the
sidecar container runs it beside TorchServe). make_available lists the new version (the served encoder
recorded as the set's default) and answers ``ready`` only once inference answers the pinned version;
the rollout's preparing step waits tick by tick, and fails with the reason past its timeout; switch_to
moves the default, sync_serving after a rollback moves it back and drops the retired version."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from django.test import override_settings

from tests.pipeline_support import TorchServeInstance, checkpoint_version, tiny_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _until(what, fn, timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_rollout_drives_torchserve_through_the_served_set(tmp_path, monkeypatch):
    from registry.models import EncoderRollout, EncoderVersion

    from serving.archive import safe_version
    from serving.client import TorchServeClient
    from serving.management import ManagementClient
    from serving.sync import Syncer, check
    from workers import rollout

    old_path = tiny_checkpoint(tmp_path / "old", seed=0, run_id="set-v1")
    new_path = tiny_checkpoint(tmp_path / "new", seed=7, run_id="set-v2")
    ts = TorchServeInstance(tmp_path / "ts", old_path).start()  # the pod's champion, loaded at start
    old_tag, new_tag = checkpoint_version(old_path), checkpoint_version(new_path)
    v_old, v_new = safe_version(old_tag), safe_version(new_tag)
    old = EncoderVersion.objects.create(version_tag=old_tag, config_name="tiny", weights_digest="x" * 8,
                                        artifact_uri=f"file://{old_path}", status="active",
                                        file_sha256=hashlib.sha256(old_path.read_bytes()).hexdigest())
    new = EncoderVersion.objects.create(version_tag=new_tag, config_name="tiny", weights_digest="y" * 8,
                                        artifact_uri=f"file://{new_path}", status="candidate",
                                        file_sha256=hashlib.sha256(new_path.read_bytes()).hexdigest())
    pointer = tmp_path / "bucket" / "models" / "gaitmae" / "served.json"
    monkeypatch.setenv("GAIT_TORCHSERVE_SERVED_POINTER", str(pointer))
    monkeypatch.delenv("GAIT_TORCHSERVE_MANAGEMENT_URL", raising=False)  # cluster mode needs neither
    monkeypatch.delenv("GAIT_TORCHSERVE_MODEL_STORE", raising=False)
    m = ManagementClient(ts.cfg.management_url)
    default = TorchServeClient(ts.url)
    sidecar = Syncer(str(pointer), m, ts.cfg.run_dir, batch_size=4, max_batch_delay_ms=10, workers=1)
    stop = threading.Event()
    loop = threading.Thread(target=sidecar.loop, args=(0.5, stop), daemon=True)
    try:
        with override_settings(INFERENCE_BACKEND="torchserve", TORCHSERVE_URL=ts.url):
            # preparing with the sidecar not running: listed, not answered; the tick waits, then fails past its timeout
            r = EncoderRollout.objects.create(from_encoder=old, to_encoder=new, state="preparing", tick="a" * 32)
            assert rollout.advance(r) == rollout.config.rollout_tick_s() and r.state == "preparing"
            assert r.reason.startswith(f"waiting for TorchServe to serve {v_new}") and not r.progress["inference"]["ready"]
            served = json.loads(pointer.read_text())
            assert served["default"] == v_old and set(served["versions"]) == {v_old, v_new}  # the served one kept
            entry = served["versions"][v_new]
            archive = pointer.parent / entry["archive"]
            assert hashlib.sha256(archive.read_bytes()).hexdigest() == entry["sha256"] and entry["bytes"] > 0
            monkeypatch.setenv("GAIT_TORCHSERVE_SYNC_TIMEOUT_S", "0")
            with pytest.raises(RuntimeError, match=f"did not answer /predictions/gaitmae/{v_new}"):
                rollout.advance(r)
            monkeypatch.delenv("GAIT_TORCHSERVE_SYNC_TIMEOUT_S")
            assert {v["modelVersion"] for v in m.versions("gaitmae")} == {v_old}  # the worker registered nothing

            loop.start()  # the sidecar
            done = _until("the new version served", lambda: (d := rollout.make_available(new))["ready"] and d)
            assert done["version"] == v_new and done["default"] == v_old and done["mode"] == "served-set"
            assert default.describe()["model_version"] == old_tag  # registered, not default
            assert TorchServeClient(ts.url, version=v_new).describe()["model_version"] == new_tag
            assert rollout.make_available(new)["ready"]  # again: nothing rebuilt, still answered
            assert json.loads(pointer.read_text())["written_at"] == served["written_at"]

            rollout.switch_to(new)  # go-live's switch: the set's default; the pods follow
            assert json.loads(pointer.read_text())["default"] == v_new
            _until("the new default", lambda: default.describe()["model_version"] == new_tag)
            _until("the gate ready", lambda: check(ts.cfg.run_dir) == (True, f"serving the default {v_new}"))
            assert {v["modelVersion"] for v in m.versions("gaitmae")} == {v_old, v_new}  # old kept: instant rollback

            # rollback (registry.rollouts.rollback_rollout's writes), then the task it sends
            EncoderVersion.objects.filter(pk=new.pk).update(status="retired", is_default=False)
            EncoderVersion.objects.filter(pk=old.pk).update(is_default=True)
            EncoderRollout.objects.filter(pk=r.pk).update(state="rolled-back")
            assert rollout.sync_serving() == old_tag
            served = json.loads(pointer.read_text())
            assert served["default"] == v_old and set(served["versions"]) == {v_old}  # the retired one left
            _until("the old default", lambda: default.describe()["model_version"] == old_tag)
            _until("the retired version unregistered",
                   lambda: {v["modelVersion"] for v in m.versions("gaitmae")} == {v_old})
            assert check(ts.cfg.run_dir)[0]
    finally:
        stop.set()
        if loop.is_alive():
            loop.join(timeout=60)
        ts.stop()
