"""The pretraining Job's container command, exactly as the kubernetes launcher renders it into the Job,
runs here under ``torchrun --nproc-per-node 2`` (gloo, CPU) on the tiny config for a few steps: rank 0
writes the checkpoints and the ``latest`` pointer to S3 (moto's server), and running the same command
again (a pod restarted after the run finished) resumes from the final checkpoint and changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.gaitcore.model_fixtures import tiny_cohort  # noqa: E402
from workers.launchers.kubernetes import PretrainSpec, render  # noqa: E402

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
# see tests/gaitcore/test_pretrain_ddp.py: a gloo thread can abort a rank's process after its work is done
TEARDOWN_ABORT = "terminate called without an active exception"


def test_the_jobs_exact_command_runs_under_torchrun_with_two_gloo_processes(tmp_path, moto_s3):
    import boto3

    from gaitcore.model.checkpoint import load_checkpoint_bytes
    from gaitcore.model.store import CheckpointStore, S3Store

    sessions = tiny_cohort(tmp_path / "cohort")
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    bucket = f"jobs-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    spec = PretrainSpec(name="gait-pretrain-1", image="gait", checkpoint_store=f"s3://{bucket}/jobs/1",
                        data=[str(sessions)], config="tiny", steps=4, batch_size=2, ckpt_every=2, nproc_per_node=2,
                        cpu="2", work_dir=str(tmp_path / "scratch" / "run"),
                        extra_args=["--log-every", "1", "--warmup-steps", "1", "--val-fraction", "0.3"])
    (job,) = render(spec)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = container["args"]  # what the pod's init (tini) runs
    assert command[:6] == ["torchrun", "--standalone", "--nnodes", "1", "--nproc-per-node", "2"]
    pod_env = {e["name"]: e["value"] for e in container["env"]}
    env = {**os.environ, **pod_env, "GAIT_S3_ENDPOINT_URL": moto_s3, "GAIT_S3_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    store = CheckpointStore(S3Store(bucket, "jobs/1", client=s3))

    def run() -> subprocess.CompletedProcess:
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
        ptr = store.latest()
        done = ptr is not None and ptr["step"] == spec.steps and ptr["final"]
        assert proc.returncode == 0 or (done and TEARDOWN_ABORT in proc.stderr), proc.stderr[-3000:]
        return proc

    first = run()
    ptr = store.latest()
    assert ptr["step"] == 4 and ptr["final"] is True
    ck = load_checkpoint_bytes(store.read(ptr["key"]), ptr["key"])
    assert ck.train_state["step"] == 4 and ck.meta["training"]["world_size"] == 2
    assert ck.meta["data"]["windows_seen"] == 8
    keys = store.store.list("")
    assert {"latest", "metrics.jsonl", "model.pt", "summary.json"} <= set(keys)
    assert sorted(k.split("-")[1] for k in keys if k.startswith("checkpoints/")) == ["00000002", "00000004"]
    summary = json.loads(store.store.get("summary.json"))
    assert summary["world_size"] == 2 and summary["step"] == 4 and summary["latest"] == ptr["key"]
    train = [json.loads(x) for x in store.store.get("metrics.jsonl").decode().splitlines()]
    assert [r["step"] for r in train if r["split"] == "train"] == [1, 2, 3, 4]
    assert "pretrain step 4/4" in first.stderr

    again = run()  # the same command in a restarted pod: resumes at the final step, trains nothing
    assert f"resuming from s3://{bucket}/jobs/1/{ptr['key']} at step 4" in again.stderr
    assert "pretrain step" not in again.stderr
    assert store.latest()["step"] == 4
