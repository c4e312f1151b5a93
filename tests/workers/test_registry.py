"""Training jobs, the registry, promotion and rollback end to end: the API, PostgreSQL, Redis as the broker
and real Celery worker processes (queue ``training``), on a synthetic organisation (tests/registry_support).

* the acceptance flow: >= 200 labelled subjects, a ``finetune-heads`` job started by a researcher through
  the API, progress visible while it runs, CV metrics per target and the winning representation, promote ->
  new sessions get its predictions (keyed by the versions), a worse candidate refused by the gate (and an
  audited admin override), rollback -> the previous champion predicts again;
* kill -9 of the training worker mid-job -> the sweeper retries it and it succeeds, or fails it with the
  reason when no attempt is left; cancel stops a running job within seconds;
* snapshots hold only the job's organisation and only subjects with training consent.
"""

from __future__ import annotations

import time
from unittest import mock

import pytest
from rest_framework.test import APIClient

from tests.pipeline_support import WorkerHarness
from tests.registry_support import add_session, seed_organisation, subject_record
from tests.services import redis_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

N_SUBJECTS = 220


class Registry(WorkerHarness):
    def __init__(self, tmp_path, broker):
        from tenancy.models import Role

        from tests.platform.factories import make_org, make_token

        self.org = make_org("reg-a")
        self.other = make_org("reg-b")
        self.researcher = self.client(make_token(self.org, Role.RESEARCHER))
        self.admin = self.client(make_token(self.org, Role.ADMIN))
        super().__init__(tmp_path, broker, extra_patches=lambda celery: [
            mock.patch("workers.celery_app.app.send_task", side_effect=celery.send_task)])

    @staticmethod
    def client(token: str) -> APIClient:
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return c

    def upload_labels(self, data: dict) -> int:
        import io

        f = io.BytesIO(data["csv"].encode())
        f.name = "labels.csv"
        r = self.admin.post("/api/v1/phenotype-tables/", {"name": "phenotypes 2026", "cohort": data["cohort"].pk,
                                                           "file": f}, format="multipart")
        assert r.status_code == 201, r.content
        return r.json()["id"]

    def start(self, table: int, client=None, **config) -> dict:
        r = (client or self.researcher).post("/api/v1/training-jobs/", {"label_table": table, "config": config},
                                             format="json")
        assert r.status_code == 201, r.content
        return r.json()

    def job(self, job_id: int) -> dict:
        return self.researcher.get(f"/api/v1/training-jobs/{job_id}/").json()

    def wait(self, job_id: int, states=("succeeded", "failed", "cancelled"), timeout: float = 240, seen=None) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            j = self.job(job_id)
            if seen is not None:
                seen.append(j)
            if j["state"] in states:
                return j
            time.sleep(0.2)
        logs = "\n".join(w.log()[-3000:] for w in self.workers)
        raise AssertionError(f"job {job_id} still {self.job(job_id)} after {timeout} s\n{logs}")

    def new_session_predictions(self, index: int) -> list:
        """A new processed session of the organisation, predicted by the real predict step."""
        from cohorts.models import Subject
        from recordings.models import GaitSession
        from registry.models import EncoderVersion
        from results.models import Prediction
        from tenancy.scope import organisation_scope

        from workers import steps
        from workers.leases import StepRun

        version = EncoderVersion.objects.order_by("id").first().version_tag
        with organisation_scope(self.org):
            subject = Subject.objects.order_by("id").first()
            sess = add_session(subject, subject_record(index), version, status="processing")
            GaitSession.unscoped.filter(pk=sess.pk).update(step="predict")
            run = StepRun(sess.pk, "predict", None)
            assert run.acquire() is None  # the predict step's lease, as its task takes it
            steps.predict(sess.pk, version, run)
            return list(Prediction.objects.filter(session=sess))


@pytest.fixture
def reg(transactional_db, tmp_path):
    broker = redis_url(12)
    import redis

    redis.Redis.from_url(broker).flushdb()
    r = Registry(tmp_path, broker)
    yield r
    r.close()


def test_finetune_promote_gate_rollback_through_the_api(reg):
    data = seed_organisation(reg.org, N_SUBJECTS, no_consent=12)
    theirs = seed_organisation(reg.other, 30, first=5000, prefix="B")
    table = reg.upload_labels(data)
    # each progress call of the job sleeps 0.15 s, so the cross-validation lasts long enough for the
    # 0.2 s poll below to see it running, however fast the machine
    reg.worker(GAIT_PIPELINE_DELAY="job-progress:0.15")
    job = reg.start(table)
    assert job["state"] == "queued" and job["n_sessions"] == N_SUBJECTS  # only consenting subjects
    seen: list[dict] = []
    job = reg.wait(job["id"], seen=seen)
    assert job["state"] == "succeeded", job
    running = [j for j in seen if j["state"] == "running" and j["progress"].get("stage") == "cv"]
    assert running, "no progress was visible while the job ran"
    assert {"fold", "folds", "target", "eta_s"} <= set(running[-1]["progress"])
    logs = reg.researcher.get(f"/api/v1/training-jobs/{job['id']}/logs/").json()
    assert any("snapshot" in line["message"] for line in logs)

    # the snapshot: this organisation's consenting subjects only
    from registry.models import PredictorVersion, TrainingJob

    snap = TrainingJob.unscoped.get(pk=job["id"]).snapshot
    theirs_ids = {s.pk for s in theirs["sessions"]}
    no_consent = {s.pk for s in data["sessions"][N_SUBJECTS:]}
    assert not ({r["session"] for r in snap["sessions"]} & (theirs_ids | no_consent))

    v1 = reg.researcher.get(f"/api/v1/predictor-versions/{job['predictor_version']}/").json()
    assert set(v1["eval_metrics"]) == set(data["targets"])
    assert {k.split("@")[0] for k in v1["cv_metrics"]} == set(data["targets"])
    assert all("r2" in m and v1["representation"][k]["chosen"] in ("embedding", "gait", "body", "concat")
               for k, m in v1["cv_metrics"].items())
    age_heads = [k for k in v1["cv_metrics"] if k.startswith("age@")]
    assert sorted(age_heads) == ["age@F", "age@M"]  # sex-specific, as the demo predictor
    assert all(v1["cv_metrics"][k]["r"]["mean"] > 0.3 for k in age_heads)

    # researchers may train, not promote
    assert reg.researcher.post(f"/api/v1/predictor-versions/{v1['id']}/promote/", {}, format="json").status_code == 403
    r = reg.admin.post(f"/api/v1/predictor-versions/{v1['id']}/promote/", {}, format="json")
    assert r.status_code == 200, r.content
    preds = reg.new_session_predictions(9001)
    assert preds and {p.predictor_version_id for p in preds} == {v1["id"]}
    assert {p.model_name for p in preds} == {v1["name"]}
    api_pred = reg.researcher.get(f"/api/v1/predictions/{preds[0].pk}/").json()
    assert api_pred["predictor_version"] == v1["id"] and api_pred["encoder_version"] is not None

    # a worse candidate (body size only) is refused by the gate; an admin may override with a reason
    worse = reg.wait(reg.start(table, representations=["body"])["id"])
    assert worse["state"] == "succeeded", worse
    r = reg.admin.post(f"/api/v1/predictor-versions/{worse['predictor_version']}/promote/", {}, format="json")
    assert r.status_code == 400, r.content
    assert "gate" in r.content.decode()

    # an equal candidate (same recipe) passes; rollback returns to v1
    same = reg.wait(reg.start(table)["id"])
    r = reg.admin.post(f"/api/v1/predictor-versions/{same['predictor_version']}/promote/", {}, format="json")
    assert r.status_code == 200, r.content
    assert {p.predictor_version_id for p in reg.new_session_predictions(9002)} == {same["predictor_version"]}
    champion = [a for a in reg.admin.get("/api/v1/aliases/").json()["results"] if a["name"] == "champion"][0]
    r = reg.admin.post(f"/api/v1/aliases/{champion['id']}/rollback/", {"reason": "test"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["to_predictor"] == v1["id"] and r.json()["action"] == "rollback"
    assert {p.predictor_version_id for p in reg.new_session_predictions(9003)} == {v1["id"]}

    r = reg.admin.post(f"/api/v1/predictor-versions/{worse['predictor_version']}/promote/",
                       {"override_reason": "clinic lead accepts lower R2 for the body-only model"}, format="json")
    assert r.status_code == 200 and r.json()["action"] == "override"
    events = reg.admin.get("/api/v1/alias-events/").json()["results"]
    assert [e["action"] for e in events][:4] == ["override", "rollback", "promote", "promote"]
    assert PredictorVersion.unscoped.filter(organisation=reg.org).count() == 3


def test_cancel_stops_a_running_job_within_seconds(reg):
    data = seed_organisation(reg.org, 120)
    table = reg.upload_labels(data)
    reg.worker()
    job = reg.start(table, seeds=15)
    reg.wait(job["id"], states=("running",), timeout=120)
    deadline = time.monotonic() + 60
    while reg.job(job["id"])["progress"].get("stage") != "cv" and time.monotonic() < deadline:
        time.sleep(0.1)
    t0 = time.monotonic()
    r = reg.researcher.post(f"/api/v1/training-jobs/{job['id']}/cancel/")
    assert r.status_code == 200, r.content
    done = reg.wait(job["id"], timeout=30)
    assert done["state"] == "cancelled", done
    assert time.monotonic() - t0 < 10
    assert "cancel" in done["reason"]


@pytest.mark.parametrize("attempts", [2, 1])
def test_worker_killed_mid_job_is_retried_or_failed_with_reason(reg, attempts, monkeypatch):
    from workers.jobs_sweeper import sweep_jobs

    monkeypatch.setenv("GAIT_JOB_STALE_AFTER_S", "3")
    monkeypatch.setenv("GAIT_JOB_MAX_ATTEMPTS", str(attempts))
    data = seed_organisation(reg.org, 120)
    table = reg.upload_labels(data)
    w = reg.worker()
    job = reg.start(table, seeds=10)
    reg.wait(job["id"], states=("running",), timeout=120)
    deadline = time.monotonic() + 60
    while reg.job(job["id"])["progress"].get("stage") != "cv" and time.monotonic() < deadline:
        time.sleep(0.1)
    w.kill()
    assert reg.job(job["id"])["state"] == "running"
    time.sleep(3.5)
    out = sweep_jobs()
    j = reg.job(job["id"])
    if attempts == 1:
        assert out["failed"] == [job["id"]] and j["state"] == "failed"
        assert "no heartbeat" in j["reason"] and "no retry left" in j["reason"]
        return
    assert out["retried"] == [job["id"]] and j["state"] == "queued" and "retrying" in j["reason"]
    reg.worker()
    j = reg.wait(job["id"])
    assert j["state"] == "succeeded" and j["attempts"] == 2, j
