"""The session pipeline end to end with real parts: PostgreSQL (pytest-django's test database, shared
with the worker process), Redis as the broker, moto's S3 server as storage, TorchServe on loopback or
the in-process client, and real Celery worker processes. Sessions are uploaded through the API.
"""

from __future__ import annotations

import json
import time
import uuid
from unittest import mock

import boto3
import pytest
from celery import Celery
from django.test import override_settings
from rest_framework.test import APIClient

from tests.pipeline_support import (
    WINDOWED_TASKS,
    TorchServeInstance,
    Worker,
    checkpoint_version,
    db_url,
    synthetic_session_bytes,
)
from tests.platform.sessionfiles import sha256
from tests.services import free_port, redis_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUES = ("default", "preprocess", "inference", "training")


class Stack:
    """API client, storage, broker and worker environment of one test."""

    def __init__(self, tmp_path, s3_url, broker, ckpt, predictor):
        from cohorts.models import Cohort, Subject
        from tenancy.models import Role
        from tenancy.scope import organisation_scope

        from tests.platform.factories import make_org, make_token

        self.tmp, self.broker = tmp_path, broker
        self.bucket = f"gait-{uuid.uuid4().hex[:12]}"
        self.s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        self.s3.create_bucket(Bucket=self.bucket)
        from tests.platform.recordings.test_api import s3_storages

        self.override = override_settings(STORAGES=s3_storages(s3_url, self.bucket))
        self.override.enable()
        self.org = make_org(f"org-{uuid.uuid4().hex[:8]}")
        with organisation_scope(self.org):
            self.cohort = Cohort.objects.create(name="pipeline")
            self.subject = Subject.objects.create(cohort=self.cohort, external_id="P-1", birth_year=1960, sex="female")
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(self.org, Role.CLINICIAN)}")
        self.env = {
            "DATABASE_URL": db_url(), "GAIT_BROKER_URL": broker, "GAIT_RESULT_BACKEND": broker,
            "GAIT_VAR_DIR": str(tmp_path), "GAIT_STORAGE": "s3", "GAIT_S3_BUCKET": self.bucket,
            "GAIT_S3_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "GAIT_INFERENCE_BACKEND": "inprocess", "GAIT_MODEL_CHECKPOINT": str(ckpt), "GAIT_PREDICTOR": str(predictor),
            "GAIT_PIPELINE_RETRY_BACKOFF_S": "0.5", "GAIT_PIPELINE_RETRY_BACKOFF_MAX_S": "2",
            "GAIT_PIPELINE_RETRY_FOR_S": "600", "GAIT_BROKER_VISIBILITY_TIMEOUT": "10",
        }
        self.workers: list[Worker] = []
        from recordings.dispatch import TASK_ROUTES

        self.client = Celery(broker=broker, set_as_current=False)
        self.client.conf.task_routes = TASK_ROUTES
        # the API sends by name through recordings.dispatch.api_app(): send to this test's Redis instead
        self.patch = mock.patch("recordings.dispatch.api_app", return_value=self.client)
        self.patch.start()

    def worker(self, **env) -> Worker:
        w = Worker(self.env | env, self.tmp / f"worker-{len(self.workers)}.log").start()
        self.workers.append(w)
        return w

    def close(self):
        for w in self.workers:
            w.stop()
        self.patch.stop()
        self.client.close()
        self.override.disable()

    # -- through the API
    def upload(self, data: bytes) -> int:
        from gaitcore.sessionfile import from_bytes

        tasks = [t.task for t in from_bytes(data).tasks]
        body = {"subject": self.subject.pk, "format": "gait-session", "size": len(data), "sha256": sha256(data),
                "tasks": tasks, "filename": "p.gait.npz"}
        up = self.api.post("/api/v1/uploads/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        assert up.status_code == 201, up.content
        uid = up.json()["id"]
        r = self.api.put(f"/api/v1/uploads/{uid}/chunk/", data, content_type="application/offset+octet-stream",
                         HTTP_UPLOAD_OFFSET="0")
        assert r.status_code in (200, 204), r.content
        r = self.api.post(f"/api/v1/uploads/{uid}/complete/")
        assert r.status_code == 201, r.content
        return r.json()["id"]

    def session(self, sid: int) -> dict:
        return self.api.get(f"/api/v1/sessions/{sid}/").json()

    def wait_final(self, sid: int, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.session(sid)
            if s["status"] in ("done", "failed"):
                return s
            time.sleep(0.3)
        logs = "\n".join(w.log()[-3000:] for w in self.workers)
        raise AssertionError(f"session {sid} still {self.session(sid)} after {timeout} s\n{logs}")

    def results(self, sid: int) -> dict:
        out = {}
        for name in ("qc", "features", "embeddings", "predictions"):
            r = self.api.get(f"/api/v1/{name}/", {"session": sid, "limit": 1000})
            assert r.status_code == 200, r.content
            out[name] = r.json()["results"]
        return out


@pytest.fixture
def stack(transactional_db, tmp_path, moto_s3, tiny_ckpt, predictor_dir):
    broker = redis_url(13)  # this suite's own Redis database, emptied first (stale messages of old runs)
    import redis

    redis.Redis.from_url(broker).flushdb()
    st = Stack(tmp_path, moto_s3, broker, tiny_ckpt, predictor_dir)
    yield st
    st.close()


def assert_complete(res: dict, version: str, n_windows_tasks: int = WINDOWED_TASKS) -> None:
    assert len(res["qc"]) == 1
    assert sorted(f["task"] for f in res["features"]) == sorted({f["task"] for f in res["features"]})
    assert len(res["features"]) == 5
    tasks = [e["task"] for e in res["embeddings"]]
    assert len(tasks) == len(set(tasks)) == n_windows_tasks + 1 and "ensemble" in tasks
    assert {e["model_version"] for e in res["embeddings"]} == {version}
    assert all(len(e["vector"]) == 256 for e in res["embeddings"])
    preds = {p["phenotype"]: p for p in res["predictions"]}
    assert len(preds) == len(res["predictions"])  # no duplicates
    assert {"age", "bmi", "gait_age"} <= set(preds)
    assert preds["age"]["lower"] < preds["age"]["value"] < preds["age"]["upper"]
    for derived in ("gait_age", "gait_age_gap", "gait_age_gap_corrected"):  # the age head's interval, shifted
        d = preds[derived]
        assert d["upper"] - d["value"] == pytest.approx(preds["age"]["upper"] - preds["age"]["value"], abs=1e-6)
        assert d["value"] - d["lower"] == pytest.approx(preds["age"]["value"] - preds["age"]["lower"], abs=1e-6)
    assert {p["model_version"] for p in res["predictions"]} == {version}


def test_uploaded_session_ends_done_via_torchserve(stack, torchserve, tiny_ckpt):
    stack.worker(GAIT_INFERENCE_BACKEND="torchserve", GAIT_TORCHSERVE_URL=torchserve.url)
    sid = stack.upload(synthetic_session_bytes(seed=1))
    s = stack.wait_final(sid)
    assert s["status"] == "done", s
    assert_complete(stack.results(sid), checkpoint_version(tiny_ckpt))


def test_worker_killed_mid_step_then_restarted_ends_done_without_duplicates(stack, tiny_ckpt):
    first = stack.worker(GAIT_PIPELINE_DELAY="embed:8")
    sid = stack.upload(synthetic_session_bytes(seed=2))
    first.wait_log("embed: injected delay", timeout=90)
    first.kill()  # SIGKILL in the middle of the embed step: its message is still unacknowledged
    assert stack.session(sid)["status"] == "processing"
    # Redis hands an unacknowledged message to another consumer once it is older than the visibility
    # timeout (10 s here); a new worker restores such messages on its first restore pass, then every 100 s.
    time.sleep(10)
    stack.worker()
    s = stack.wait_final(sid, timeout=150)
    assert s["status"] == "done", s
    assert_complete(stack.results(sid), checkpoint_version(tiny_ckpt))


def test_sessions_wait_for_torchserve_and_finish_when_it_is_back(stack, tmp_path, tiny_ckpt):
    ts = TorchServeInstance(tmp_path / "ts", tiny_ckpt)
    try:
        ts.start()
        ts.stop()  # down while the sessions are queued
        w = stack.worker(GAIT_INFERENCE_BACKEND="torchserve", GAIT_TORCHSERVE_URL=ts.url)
        sids = [stack.upload(synthetic_session_bytes(seed=3, index=i)) for i in range(2)]
        w.wait_log("transient fault", timeout=90)
        time.sleep(2)
        for sid in sids:
            s = stack.session(sid)
            assert s["status"] in ("processing", "validating"), s
        assert any("waiting to retry" in stack.session(sid)["status_reason"] for sid in sids)
        ts.start()
        for sid in sids:
            s = stack.wait_final(sid, timeout=120)
            assert s["status"] == "done", s
            assert s["status_reason"] == ""
            assert_complete(stack.results(sid), checkpoint_version(tiny_ckpt))
    finally:
        ts.stop()


def test_spent_retry_budget_fails_with_that_reason(stack):
    # the budget is a duration from the step's first fault (GAIT_PIPELINE_RETRY_FOR_S; an hour by default)
    stack.worker(GAIT_INFERENCE_BACKEND="torchserve", GAIT_TORCHSERVE_URL=f"http://127.0.0.1:{free_port()}",
                 GAIT_PIPELINE_RETRY_FOR_S="4", GAIT_PIPELINE_RETRY_BACKOFF_S="0.2")
    sid = stack.upload(synthetic_session_bytes(seed=4))
    s = stack.wait_final(sid)
    assert s["status"] == "failed"
    assert "did not succeed for 4 s" in s["status_reason"] and "unreachable" in s["status_reason"], s


def test_corrupt_stored_file_fails_with_a_readable_reason(stack):
    sid = stack.upload(synthetic_session_bytes(seed=5))  # no worker yet: the task waits in Redis
    from recordings.models import GaitSession

    key = GaitSession.unscoped.get(pk=sid).file_key
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"PK\x03\x04 truncated garbage")
    stack.worker()
    s = stack.wait_final(sid)
    assert s["status"] == "failed"
    assert "damaged" in s["status_reason"] and "upload it again" in s["status_reason"], s


def test_backfill_of_a_new_default_model_version(stack, tiny_ckpt, tmp_path):
    import os
    import subprocess
    import sys

    from tests.helpers import REPO
    from tests.pipeline_support import tiny_checkpoint

    first = stack.worker()
    sid = stack.upload(synthetic_session_bytes(seed=6))
    assert stack.wait_final(sid)["status"] == "done"
    first.stop()
    new = tiny_checkpoint(tmp_path / "v2", seed=7, run_id="test-tiny-v2")
    stack.worker(GAIT_MODEL_CHECKPOINT=str(new))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL", "AWS_"))}
    env.update(stack.env | {"GAIT_MODEL_CHECKPOINT": str(new), "DJANGO_SETTINGS_MODULE": "gaitsite.settings",
                            "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])})
    r = subprocess.run([sys.executable, "-m", "workers.backfill", "--batch", "1", "--wait-timeout", "120"],
                       env=env, cwd=REPO, capture_output=True, text=True, timeout=200)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"model_version": checkpoint_version(new), "pending": 1, "queued": 1, "finished": 1}
    assert "1/1 sessions have" in r.stderr
    res = stack.results(sid)
    versions = [e["model_version"] for e in res["embeddings"]]
    assert versions.count(checkpoint_version(tiny_ckpt)) == versions.count(checkpoint_version(new)) == WINDOWED_TASKS + 1
    assert stack.wait_final(sid)["status"] == "done"
