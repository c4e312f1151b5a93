"""A global ``pretrain-encoder`` job on the ``kubernetes`` launcher, against kmock's emulator (a real HTTP
server speaking the Kubernetes API; the launcher finds it through a kubeconfig, as in a cluster):

* the job's runner exports exactly the snapshot's session files (SHA-256 checked) to the job's store,
  creates the Job and follows it; the pod's command, run here unchanged under ``torchrun`` (with its
  scratch folder mapped to a local one), fetches those files only and trains; when the Job completes the
  runner registers the candidate encoder from the store and cleans the Job up;
* a pod killed at its memory limit until the backoff limit fails the job with a readable reason.

The emulator has no controllers: the test plays the Job controller and the kubelet through the API."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest

pytest.importorskip("torch")
pytest.importorskip("kmock")

from tests.workers.launchers.test_kubernetes import NS, _cs, _job_condition, _pod  # noqa: E402
from tests.workers.test_pretrain_job import seed  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def cluster(k8s, tmp_path, monkeypatch):
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "emu",
        "clusters": [{"name": "emu", "cluster": {"server": k8s.url}}],
        "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "u", "namespace": NS}}],
        "users": [{"name": "u", "user": {"token": "emulator"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    monkeypatch.setenv("GAIT_K8S_NAMESPACE", NS)
    monkeypatch.setenv("GAIT_TRAINING_IMAGE", "registry.example/gait:1.2.3")
    monkeypatch.setenv("GAIT_CHECKPOINT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("GAIT_JOB_HEARTBEAT_S", "0.5")
    from workers.launchers.kubernetes import KubernetesLauncher

    return KubernetesLauncher(api_client=k8s.api_client(), namespace=NS)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[bytes]:
    from tests.gaitcore.model_fixtures import tiny_cohort

    folder = tiny_cohort(tmp_path_factory.mktemp("cohort"), n_subjects=4, seed=9)
    return [p.read_bytes() for p in sorted(folder.glob("*.gait.npz"))]


def start(files, config: dict):
    from django.contrib.auth import get_user_model
    from registry.actions import start_pretrain_job
    from tenancy.audit import Actor

    from tests.platform.factories import make_org

    a, b = make_org("k8s-a"), make_org("k8s-b")
    a.pooled_pretraining = True
    a.save()
    mine = seed(a, files[:3], [True, True, False])
    seed(b, files[3:], [True])
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    with mock.patch("registry.actions.send_task"):
        job = start_pretrain_job(Actor(user=staff, role="staff"), launcher="kubernetes", config=config)
    return job, mine


def run_in_thread(job_id: int) -> threading.Thread:
    from django.db import connection

    from workers.training import run_job

    def target():
        try:
            run_job(job_id)
        finally:
            connection.close()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def wait_for_job_object(launcher, job_id: int, timeout=60):
    from registry.models import TrainingJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = launcher.batch.list_namespaced_job(NS).items
        if items:
            return items[0]
        job = TrainingJob.unscoped.get(pk=job_id)
        assert not job.final, job.reason
        time.sleep(0.1)
    raise AssertionError("the runner created no Kubernetes Job")


def test_the_pod_trains_on_the_exported_snapshot_and_the_runner_registers_the_candidate(cluster, files, tmp_path):
    from registry.models import EncoderVersion, TrainingJob

    from gaitcore.model.checkpoint import load_checkpoint

    job, mine = start(files, {"config": "tiny", "steps": 6, "batch_size": 2, "ckpt_every": 3, "warmup_steps": 1,
                              "log_every": 1, "val_fraction": 0.4})
    assert [r["session"] for r in job.snapshot["sessions"]] == [s.pk for s in mine[:2]]
    runner = run_in_thread(job.pk)
    k8s_job = wait_for_job_object(cluster, job.pk)
    name = k8s_job.metadata.name
    args = list(k8s_job.spec.template.spec.containers[0].args)
    data_url = args[args.index("--data-store") + 1]
    store = Path(os.environ["GAIT_CHECKPOINT_STORE"]) / "jobs" / str(job.pk)
    assert data_url == f"{store}/data" and "--data" not in args
    manifest = json.loads((store / "data" / "manifest.json").read_text())
    assert sorted(f["sha256"] for f in manifest["files"]) == sorted(s.sha256 for s in mine[:2])
    assert manifest["snapshot_hash"] == job.snapshot_hash

    # the kubelet starts the pod; its command runs here, unchanged but for the scratch folder
    cluster.core.create_namespaced_pod(NS, _pod(f"{name}-abcde", name, "Running",
                                                _cs({"running": {"startedAt": "2026-12-07T12:00:00Z"}})))
    args[args.index("--out") + 1] = str(tmp_path / "scratch" / "run")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fetched = sorted((tmp_path / "scratch" / "run" / "data" / "files").glob("*.gait.npz"))
    assert sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in fetched) == sorted(s.sha256 for s in mine[:2])
    _job_condition(cluster, {"job": name}, "Complete", "CompletionsReached", succeeded=1)
    cluster.core.patch_namespaced_pod_status(f"{name}-abcde", NS, {"status": {
        "phase": "Succeeded", "containerStatuses": _cs({"terminated": {"exitCode": 0, "reason": "Completed"}})}})
    runner.join(90)
    assert not runner.is_alive()
    done = TrainingJob.unscoped.get(pk=job.pk)
    assert done.state == "succeeded" and "registered as a candidate" in done.reason, done.reason
    enc = EncoderVersion.objects.get(job=done)
    ck = load_checkpoint(store / "model.pt")
    assert enc.status == "candidate" and enc.version_tag == ck.version_tag and enc.parent is None
    assert enc.artifact_uri == f"file://{(store / 'model.pt').resolve()}"
    assert ck.meta["data"]["sources"][0]["manifest"]["snapshot_hash"] == job.snapshot_hash
    assert cluster.batch.list_namespaced_job(NS).items == []  # cleaned up
    assert done.artifacts["launch"]["job"] == name


def test_a_retried_follower_adopts_the_job_an_earlier_attempt_created(cluster, files):
    """A follower killed after creating the Job but before recording it: its retry finds the Job by the
    training job's label and follows it; no second Job trains into the same store."""
    from registry.models import TrainingJob

    from workers.launchers.kubernetes import KubernetesLauncher

    job, _ = start(files, {"config": "tiny", "steps": 6, "batch_size": 2})
    TrainingJob.unscoped.filter(pk=job.pk).update(attempts=1)
    job.refresh_from_db()
    first = KubernetesLauncher(api_client=cluster.api_client, namespace=NS).launch(job)  # what attempt 1 created
    runner = run_in_thread(job.pk)  # attempt 2
    deadline = time.monotonic() + 30
    while not TrainingJob.unscoped.get(pk=job.pk).artifacts.get("launch") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert TrainingJob.unscoped.get(pk=job.pk).artifacts["launch"]["job"] == first["job"]
    _job_condition(cluster, first, "Failed", "DeadlineExceeded", "too long")
    runner.join(60)
    assert [j.metadata.name for j in cluster.batch.list_namespaced_job(NS).items] == []  # cleaned up, none added
    done = TrainingJob.unscoped.get(pk=job.pk)
    assert done.state == "failed" and "ran longer than its deadline" in done.reason, done.reason


def test_a_pod_killed_at_its_memory_limit_fails_the_job_with_the_reason(cluster, files):
    from registry.models import TrainingJob

    job, _ = start(files, {"config": "tiny", "steps": 6, "batch_size": 2, "backoff_limit": 1, "memory": "1Gi"})
    runner = run_in_thread(job.pk)
    name = wait_for_job_object(cluster, job.pk).metadata.name
    assert cluster.batch.read_namespaced_job(name, NS).spec.template.spec.containers[0].resources.limits[
        "memory"] == "1Gi"
    _job_condition(cluster, {"job": name}, "Failed", "BackoffLimitExceeded", "backoff limit reached", failed=2)
    cluster.core.create_namespaced_pod(NS, _pod(f"{name}-x", name, "Failed", _cs(
        {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-12-07T12:01:00Z"}})))
    runner.join(60)
    done = TrainingJob.unscoped.get(pk=job.pk)
    assert done.state == "failed", done.reason
    assert done.reason.startswith(f"the Kubernetes Job {name} failed: the pods failed 2 times, more than the "
                                  "backoff limit of 1")
    assert "out of memory" in done.reason and "OOMKilled" in done.reason
