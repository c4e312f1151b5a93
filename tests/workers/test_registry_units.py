"""Registry facts that need gaitcore's model code: the shipped encoder's row matches the checkpoint in the
repository; a predictor artifact is refused when its arrays are not what its JSON says, or need pickle."""

from __future__ import annotations

import hashlib
import json
from importlib import import_module

import numpy as np
import pytest


def test_the_shipped_encoder_row_describes_the_shipped_checkpoint():
    from gaitcore.model.checkpoint import SHIPPED_CHECKPOINT, load_checkpoint, weights_digest

    shipped = import_module("registry.migrations.0002_shipped_encoder_and_cards").SHIPPED
    ckpt = load_checkpoint()
    assert shipped["version_tag"] == ckpt.version_tag
    assert shipped["config_name"] == ckpt.config.name
    assert shipped["weights_digest"] == weights_digest(ckpt.model())
    assert shipped["file_sha256"] == hashlib.sha256(SHIPPED_CHECKPOINT.read_bytes()).hexdigest()


def _artifact(tmp_path):
    from gaitcore.probe.finetune import FitConfig, fit_heads

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    cols = [f"emb:{i:04d}" for i in range(3)] + ["gait:cadence_steps_min", "body:leg_length_mm"]
    p = fit_heads(X, cols, X[:, :1] * 2 + rng.normal(size=(60, 1)), np.arange(60), None,
                  FitConfig(targets=["age"]), embedding_model_version="e", source="t")
    return p.save(tmp_path / "a")


def test_an_artifact_with_other_arrays_or_pickled_objects_is_refused(tmp_path):
    from gaitcore.probe.predictor import Predictor

    folder = _artifact(tmp_path)
    Predictor.load(folder)
    # arrays replaced (hash mismatch)
    np.savez(folder / "predictor.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="does not match"):
        Predictor.load(folder)
    # an object array with a matching hash still never unpickles
    arrays = {f"age@all/{n}": np.zeros(5) for n in ("impute", "mean", "scale", "intercept")}
    np.savez(folder / "predictor.npz", **arrays, **{"age@all/coef": np.array([object()], dtype=object)})
    meta = json.loads((folder / "predictor.json").read_text())
    meta["arrays_sha256"] = hashlib.sha256((folder / "predictor.npz").read_bytes()).hexdigest()
    (folder / "predictor.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="pickle"):
        Predictor.load(folder)


def test_launchers_follow_the_protocol_and_an_unknown_one_is_a_launch_error():
    from workers.launchers import BACKENDS, Launcher, LaunchError, get_launcher

    for name in BACKENDS:
        assert isinstance(get_launcher(name), Launcher)
    with pytest.raises(LaunchError, match="unknown launcher 'nowhere'"):
        get_launcher("nowhere")


@pytest.mark.django_db
def test_a_job_nobody_picked_up_is_dispatched_again_then_failed_with_the_reason(monkeypatch):
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone
    from registry.models import TrainingJob

    from tests.platform.factories import make_org
    from tests.registry_support import registry_objects
    from workers.jobs_sweeper import sweep_jobs

    monkeypatch.setenv("GAIT_JOB_QUEUED_TIMEOUT_S", "60")
    job_id = registry_objects(make_org("sweep-q"))["job_id"]
    TrainingJob.unscoped.filter(pk=job_id).update(state="queued", reason="", created_at=timezone.now() - timedelta(seconds=90))
    with mock.patch("workers.jobs_sweeper._send") as send:
        assert sweep_jobs()["redispatched"] == [job_id]
        assert sweep_jobs()["redispatched"] == []  # once
        send.assert_called_once_with("workers.training.dispatch", job_id)
    TrainingJob.unscoped.filter(pk=job_id).update(created_at=timezone.now() - timedelta(seconds=130))
    assert sweep_jobs()["failed"] == [job_id]
    job = TrainingJob.unscoped.get(pk=job_id)
    assert job.state == "failed" and "no worker of the training queue picked it up" in job.reason
