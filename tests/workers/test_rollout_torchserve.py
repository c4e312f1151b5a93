"""A rollout's inference steps on the TorchServe backend, against the real TorchServe of the pipeline tests:
the new encoder's archive is built from its checkpoint and registered **not** as default
(``workers.rollout.make_available``), the pinned version answers while the default still is the old one,
go-live's switch makes it the default, rollback (``serving.management`` by its history, and
``workers.rollout.sync_serving`` from the registry's default) makes the old one the default again."""

from __future__ import annotations

import hashlib

import pytest
from django.test import override_settings

from tests.pipeline_support import checkpoint_version, tiny_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_register_not_default_then_switch_and_roll_back(torchserve, tiny_ckpt, tmp_path, monkeypatch):
    from registry.models import EncoderVersion

    from serving import server
    from serving.archive import safe_version
    from serving.client import TorchServeClient
    from serving.management import ManagementClient
    from workers import inference, rollout

    new_path = tiny_checkpoint(tmp_path / "store", seed=9, run_id="ts-rollout-v2")
    old_tag, new_tag = checkpoint_version(tiny_ckpt), checkpoint_version(new_path)
    old = EncoderVersion.objects.create(version_tag=old_tag, config_name="tiny", weights_digest="x" * 8,
                                        artifact_uri=str(tiny_ckpt), status="active")
    new = EncoderVersion.objects.create(version_tag=new_tag, config_name="tiny", weights_digest="y" * 8,
                                        artifact_uri=f"file://{new_path}", status="candidate",
                                        file_sha256=hashlib.sha256(new_path.read_bytes()).hexdigest())
    monkeypatch.setenv("GAIT_TORCHSERVE_MANAGEMENT_URL", torchserve.cfg.management_url)
    monkeypatch.setenv("GAIT_TORCHSERVE_MODEL_STORE", str(torchserve.cfg.model_store))
    m = ManagementClient(torchserve.cfg.management_url, state_file=server.state_file(torchserve.cfg.run_dir),
                         history_file=tmp_path / "history.json")
    default = TorchServeClient(torchserve.url)
    try:
        with override_settings(INFERENCE_BACKEND="torchserve", TORCHSERVE_URL=torchserve.url):
            done = rollout.make_available(new)
            assert done["version"] == safe_version(new_tag) and done["default"] == safe_version(old_tag)
            assert default.describe()["model_version"] == old_tag  # registered, not default
            assert inference.get_client(new_tag).describe()["model_version"] == new_tag  # pinned version
            assert rollout.make_available(new)["version"] == safe_version(new_tag)  # again: a no-op

            rollout.switch_to(new)  # go-live's switch
            assert default.describe()["model_version"] == new_tag
            assert m.rollback("gaitmae", to_version=safe_version(old_tag)) == safe_version(old_tag)
            assert default.describe()["model_version"] == old_tag
            m.set_default("gaitmae", safe_version(new_tag))
            assert m.rollback("gaitmae") == safe_version(old_tag)  # by the recorded history
            assert default.describe()["model_version"] == old_tag

            # the registry's default decides: workers pin it, sync_serving makes TorchServe's default follow
            EncoderVersion.objects.filter(pk=new.pk).update(is_default=True)
            assert inference.get_client().describe()["model_version"] == new_tag
            assert rollout.sync_serving() == new_tag and default.describe()["model_version"] == new_tag
            EncoderVersion.objects.filter(pk=new.pk).update(is_default=False)
            EncoderVersion.objects.filter(pk=old.pk).update(is_default=True)
            assert rollout.sync_serving() == old_tag and default.describe()["model_version"] == old_tag
    finally:  # the TorchServe instance is shared by the session's tests: leave it as it was
        if m.default_version("gaitmae") != safe_version(old_tag):
            m.set_default("gaitmae", safe_version(old_tag))
        if safe_version(new_tag) in {v.get("modelVersion") for v in m.versions("gaitmae")}:
            m.unregister("gaitmae", safe_version(new_tag))
