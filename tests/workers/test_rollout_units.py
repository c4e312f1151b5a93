"""Parts of ``workers.rollout`` and ``workers.encoders`` on their own: the encoder's checkpoint fetched and
checked (SHA-256, tag), batches (wait, resend, skip after three tries), a superseded chain of ticks stops,
the sweeper restarts a rollout whose ticks stopped."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from tests.pipeline_support import checkpoint_version, tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("enc"), seed=4, run_id="units-v2")


def test_checkpoint_file_is_fetched_checked_and_cached(ckpt):
    from registry.models import EncoderVersion

    from workers.encoders import EncoderArtifactError, checkpoint_file

    sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    enc = EncoderVersion(version_tag=checkpoint_version(ckpt), artifact_uri=f"file://{ckpt}", file_sha256=sha)
    path = checkpoint_file(enc)
    assert path.name == f"{sha}.pt" and path.read_bytes() == ckpt.read_bytes()
    assert checkpoint_file(enc) == path  # cached
    with pytest.raises(EncoderArtifactError, match="SHA-256"):
        checkpoint_file(EncoderVersion(version_tag=enc.version_tag, artifact_uri=str(ckpt), file_sha256="0" * 64))
    with pytest.raises(EncoderArtifactError, match="holds"):
        path.unlink()
        checkpoint_file(EncoderVersion(version_tag="gaitmae/1:tiny:other", artifact_uri=f"file://{ckpt}"))
    with pytest.raises(EncoderArtifactError, match="does not exist"):
        checkpoint_file(EncoderVersion(version_tag="x", artifact_uri=f"file://{ckpt.parent}/missing.pt"))


def test_batches_wait_resend_and_skip(monkeypatch):
    from workers import rollout

    sent = []
    monkeypatch.setattr(rollout, "_send", lambda kind, item, tag: sent.append(item[0]))
    monkeypatch.setenv("GAIT_ROLLOUT_BATCH", "2")
    monkeypatch.setenv("GAIT_ROLLOUT_BATCH_TIMEOUT_S", "1000")
    r = SimpleNamespace(progress={}, to_encoder=SimpleNamespace(version_tag="v2"))
    pending = [[1, 9], [2, 9], [3, 9]]
    assert not rollout.run_batches(r, "embed", pending) and sent == [1, 2]
    assert not rollout.run_batches(r, "embed", pending) and sent == [1, 2]  # waits for the batch
    assert not rollout.run_batches(r, "embed", pending[1:]) and sent == [1, 2]  # 2 still in flight
    assert not rollout.run_batches(r, "embed", pending[2:]) and sent == [1, 2, 3]  # batch done: the next
    monkeypatch.setenv("GAIT_ROLLOUT_BATCH_TIMEOUT_S", "0")  # session 3 never finishes: sent again, then skipped
    for _ in range(3):
        rollout.run_batches(r, "embed", pending[2:])
    assert sent == [1, 2, 3, 3, 3] and r.progress["skipped"] == {"3": "embed: not finished after 3 tries"}
    assert rollout.run_batches(r, "embed", pending[2:])  # nothing left but the skipped one


@pytest.mark.django_db
def test_a_superseded_tick_stops_and_the_sweeper_restarts_a_silent_rollout(django_capture_on_commit_callbacks,
                                                                            monkeypatch):
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone
    from registry.models import EncoderRollout, EncoderVersion

    from tests.registry_support import shipped_encoder
    from workers import rollout

    old = shipped_encoder()
    new = EncoderVersion.objects.create(version_tag="gaitmae/1:tiny:sweep", config_name="tiny", weights_digest="z",
                                        status="candidate", artifact_uri="file:///nowhere.pt")
    r = EncoderRollout.objects.create(from_encoder=old, to_encoder=new, state="backfilling", tick="a" * 32,
                                      heartbeat_at=timezone.now() - timedelta(seconds=600))
    assert rollout.tick(r.pk, "b" * 32) == {"rollout": r.pk, "status": "superseded"}
    sent = []
    monkeypatch.setenv("GAIT_JOB_STALE_AFTER_S", "120")
    with mock.patch("registry.actions.send_task", side_effect=lambda *a: sent.append(a)), \
            django_capture_on_commit_callbacks(execute=True):
        assert rollout.sweep_rollouts() == {"restarted": [r.pk], "failed": []}
    r.refresh_from_db()
    assert r.tick != "a" * 32 and r.attempts == 1
    assert sent == [("workers.rollout.tick", [r.pk, r.tick], "training")]
    assert rollout.sweep_rollouts() == {"restarted": [], "failed": []}  # fresh again
    EncoderRollout.objects.filter(pk=r.pk).update(attempts=rollout.MAX_CHAINS,
                                                  heartbeat_at=timezone.now() - timedelta(seconds=600))
    assert rollout.sweep_rollouts()["failed"] == [r.pk]
    assert EncoderRollout.objects.get(pk=r.pk).state == "failed"
