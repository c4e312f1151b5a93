"""A pretraining process killed with SIGKILL mid-run resumes from its last checkpoint in S3 (moto's
server): the step continues where the checkpoint left it, the loss history up to that step is the killed
run's own, no step is logged twice, and the run finishes. The restarted process gets a fresh run folder
(as a replaced pod does): everything it resumes from comes from the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

pytest.importorskip("torch")

from tests.gaitcore.model_fixtures import tiny_cohort  # noqa: E402

pytestmark = pytest.mark.integration

STEPS, CKPT_EVERY = 40, 4


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    return tiny_cohort(tmp_path_factory.mktemp("cohort"))


def _env(moto_s3: str) -> dict:
    return {**os.environ, "GAIT_S3_ENDPOINT_URL": moto_s3, "GAIT_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "OMP_NUM_THREADS": "1"}


def _records(path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_sigkill_mid_run_resumes_from_the_s3_checkpoint(sessions, tmp_path, moto_s3):
    import boto3

    from gaitcore.model.checkpoint import load_checkpoint_bytes
    from gaitcore.model.store import CheckpointStore, S3Store

    bucket = f"pretrain-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/runs/tiny"
    env = _env(moto_s3)

    def cmd(out):
        return [sys.executable, "-m", "gaitcore.cli", "pretrain", "--config", "tiny", "--data", str(sessions),
                "--out", str(out), "--checkpoint-store", url, "--resume", "--steps", str(STEPS),
                "--ckpt-every", str(CKPT_EVERY), "--log-every", "1", "--batch-size", "2", "--warmup-steps", "2",
                "--val-fraction", "0.3", "--no-progress"]

    store = CheckpointStore(S3Store(bucket, "runs/tiny", client=s3))
    err1 = tmp_path / "pod1.stderr"
    with err1.open("w") as fh:
        first = subprocess.Popen(cmd(tmp_path / "pod1"), env=env, stdout=subprocess.DEVNULL, stderr=fh)
    deadline = time.monotonic() + 240
    killed = False
    while time.monotonic() < deadline and first.poll() is None:
        # frozen (SIGSTOP) while we look, so what we see is exactly the state it is killed in: a
        # checkpoint at step >= 2 * CKPT_EVERY and train steps logged after it (to be run again)
        os.kill(first.pid, signal.SIGSTOP)
        ptr = store.latest()
        logged = [r["step"] for r in _records(tmp_path / "pod1" / "metrics.jsonl") if r["split"] == "train"] \
            if (tmp_path / "pod1" / "metrics.jsonl").exists() else []
        if ptr and ptr["step"] >= 2 * CKPT_EVERY and logged and max(logged) > ptr["step"]:
            os.kill(first.pid, signal.SIGKILL)
            killed = True
            break
        os.kill(first.pid, signal.SIGCONT)
        time.sleep(0.05)
    assert killed, f"finished or died before the kill: {err1.read_text()[-2000:]}"
    first.wait(30)
    assert first.returncode == -signal.SIGKILL
    killed_log = _records(tmp_path / "pod1" / "metrics.jsonl")
    at = store.latest()
    k = at["step"]
    assert at == ptr and CKPT_EVERY * 2 <= k < STEPS and k % CKPT_EVERY == 0 and not at["final"]
    beyond = max(r["step"] for r in killed_log if r["split"] == "train")
    assert beyond > k  # the killed run had logged steps after its last checkpoint
    ck = load_checkpoint_bytes(store.read(at["key"]), at["key"])
    assert ck.train_state["step"] == k and {"torch", "numpy", "python"} <= set(ck.train_state["rng"])

    second = subprocess.run(cmd(tmp_path / "pod2"), env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resuming from {url}/{at['key']} at step {k}" in second.stderr
    assert f"pretrain step {k + 1}/{STEPS}" in second.stderr and f"pretrain step {k}/" not in second.stderr

    log = _records(tmp_path / "pod2" / "metrics.jsonl")
    train = [r for r in log if r["split"] == "train"]
    assert [r["step"] for r in train] == list(range(1, STEPS + 1))  # each step once, in order: the steps
    # k+1..beyond that the killed run had logged were run again, and only the new records are kept
    # up to the checkpoint, the history is the killed run's own (carried in the checkpoint)
    assert [r for r in log if r["step"] <= k] == [r for r in killed_log if r["step"] <= k]
    summary = json.loads(second.stdout[second.stdout.index("{"):])
    assert summary["step"] == STEPS and summary["windows_seen"] == 2 * STEPS
    final = store.latest()
    assert final["step"] == STEPS and final["final"] and summary["latest"] == final["key"]
    model = load_checkpoint_bytes(store.store.get("model.pt"), "model.pt")
    assert model.meta["data"]["steps"] == STEPS and model.train_state is None
    assert len(store.store.list("checkpoints/")) <= 3  # pruned to --keep-checkpoints
    assert _records_bytes(store.store.get("metrics.jsonl")) == log
    losses = [r["loss"] for r in train]
    assert all(0 < x < 100 for x in losses)  # finite, and the resumed half continues the same run:
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5  # the loss fell over the whole run


def _records_bytes(data: bytes) -> list[dict]:
    return [json.loads(x) for x in data.decode().splitlines() if x.strip()]
