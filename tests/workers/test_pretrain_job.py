"""A global ``pretrain-encoder`` job end to end (issue 26, first acceptance bullet, first half): PostgreSQL,
Redis as the broker, real Celery worker processes on the ``training`` queue.

Two organisations: A opted in to pooled pretraining through the API (its owner), B did not; A has
subjects without training consent. Platform staff start a ``tiny`` job through the platform API, warm
started from a registered ``tiny`` encoder. Once the job's progress shows a checkpoint, the worker is
killed with SIGKILL; the jobs sweeper (short ``GAIT_JOB_STALE_AFTER_S``) queues it again, a new worker
resumes it from the checkpoint ("resumed from step N", N > 0, the steps before N are not run again), it
succeeds and a candidate encoder version exists with its job, parent, artifact and digest. The snapshot
holds only A's consenting subjects. Staff then promote that candidate: every session is re-embedded with
it, it becomes the inference default, and a rollback restores the previous one.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from unittest import mock

import pytest
from celery import Celery
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.pipeline_support import Worker, db_url
from tests.services import redis_url

pytest.importorskip("torch")
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STEPS, CKPT_EVERY, STALE_S = 240, 20, 3
URL = "/api/v1/platform/training-jobs/"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> list[bytes]:
    """Session files of 8 synthetic subjects (treadmill, ~36 s each): real GaitMAE training input."""
    from tests.gaitcore.model_fixtures import tiny_cohort

    folder = tiny_cohort(tmp_path_factory.mktemp("cohort"), n_subjects=8, seed=5)
    return [p.read_bytes() for p in sorted(folder.glob("*.gait.npz"))]


def seed(org, files: list[bytes], consent: list[bool]) -> list:
    """One subject per file (``consent_model_training`` as given) with a done session stored in storage."""
    from cohorts.models import Cohort, Subject
    from recordings import storage
    from recordings.models import GaitSession
    from tenancy.scope import organisation_scope

    out = []
    with organisation_scope(org):
        cohort = Cohort.objects.create(name="pool")
        for i, (data, ok) in enumerate(zip(files, consent, strict=True)):
            s = Subject.objects.create(cohort=cohort, external_id=f"{org.slug}-{i}", birth_year=1960 + i, sex="male",
                                       consent_research=True, consent_model_training=ok)
            key = storage.save_exact(f"sessions/{org.pk}/{i}.gait.npz", data)
            out.append(GaitSession.objects.create(subject=s, sensor="synthetic", tasks=["treadmill_3kmh"],
                                                  n_frames=1000, duration_s=36.0, file_key=key,
                                                  sha256=hashlib.sha256(data).hexdigest(), status="done"))
    return out


def warm_start_encoder(folder: Path):
    """A ``tiny`` encoder version registered from a checkpoint file (the job's warm start and parent)."""
    import torch
    from registry.actions import register_encoder
    from tenancy.audit import Actor

    from gaitcore.model.checkpoint import load_checkpoint, save_checkpoint, weights_digest
    from gaitcore.model.gaitmae import GaitMAE, get_config
    from gaitcore.preprocess import PREPROCESSING_VERSION

    torch.manual_seed(11)
    path = save_checkpoint(folder / "warm.pt", GaitMAE(get_config("tiny")), PREPROCESSING_VERSION,
                           meta={"run_id": "warm-start"})
    ck = load_checkpoint(path)
    return register_encoder(Actor.system(), version_tag=ck.version_tag, config_name="tiny",
                            weights_digest=weights_digest(ck.model()), artifact_uri=f"file://{path}", status="active")


def test_pretrain_job_killed_mid_run_resumes_from_its_checkpoint_and_registers_a_candidate(
        transactional_db, tmp_path, cohort, monkeypatch):
    import redis
    from registry.models import EncoderVersion, TrainingJob
    from tenancy.models import AuditEvent, Role

    from tests.platform.factories import make_org, make_token, verified_login
    from workers.celery_app import app
    from workers.jobs_sweeper import sweep_jobs

    broker = redis_url(11)
    redis.Redis.from_url(broker).flushdb()
    celery = Celery(broker=broker)
    celery.conf.task_routes, celery.conf.task_queues = app.conf.task_routes, app.conf.task_queues
    patches = [mock.patch("registry.actions.send_task",
                          side_effect=lambda name, args, queue, kwargs=None: celery.send_task(
                              name, args=args, kwargs=kwargs, queue=queue)),
               mock.patch("workers.celery_app.app.send_task", side_effect=celery.send_task)]
    for p in patches:
        p.start()
    monkeypatch.setenv("GAIT_JOB_STALE_AFTER_S", str(STALE_S))
    store = tmp_path / "checkpoints"
    env = {"DATABASE_URL": db_url(), "GAIT_BROKER_URL": broker, "GAIT_RESULT_BACKEND": broker,
           "GAIT_VAR_DIR": str(settings.VAR_DIR), "GAIT_JOB_HEARTBEAT_S": "0.5", "GAIT_JOB_STALE_AFTER_S": str(STALE_S),
           "GAIT_CHECKPOINT_STORE": str(store)}
    workers: list[Worker] = []

    def worker() -> Worker:
        w = Worker(env, tmp_path / f"worker-{len(workers)}.log").start()
        workers.append(w)
        return w

    try:
        a, b = make_org("pool-a"), make_org("pool-b")
        a_sessions = seed(a, cohort[:6], [True, True, True, True, False, False])
        b_sessions = seed(b, cohort[6:], [True, True])
        owner_a = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token(a, Role.OWNER)}")
        r = owner_a.patch("/api/v1/organisation/", {"pooled_pretraining": True, "reason": "research agreement"},
                          format="json")
        assert r.status_code == 200 and r.json()["pooled_pretraining"] is True, r.content
        assert AuditEvent.unscoped.filter(organisation=a, action="organisation.pooled_pretraining").exists()
        parent = warm_start_encoder(tmp_path)

        staff = verified_login(APIClient(), get_user_model().objects.create_user("ops", is_staff=True))
        body = {"kind": "pretrain-encoder", "launcher": "local", "encoder": parent.version_tag,
                "config": {"config": "tiny", "steps": STEPS, "batch_size": 2, "ckpt_every": CKPT_EVERY, "seed": 3,
                           "warmup_steps": 10, "log_every": 10, "val_fraction": 0.25}}
        assert owner_a.post(URL, body, format="json").status_code == 403  # an owner is not platform staff
        r = staff.post(URL, body, format="json")
        assert r.status_code == 201, r.content
        job = r.json()
        assert job["included"] == {"organisations": 1, "subjects": 4, "sessions": 4}
        assert job["excluded"]["organisation_not_opted_in"] == {"organisations": 1, "subjects": 2, "sessions": 2}
        assert job["excluded"]["no_training_consent"] == {"subjects": 2, "sessions": 2}
        snap = TrainingJob.unscoped.get(pk=job["id"]).snapshot
        assert [row["session"] for row in snap["sessions"]] == [s.pk for s in a_sessions[:4]]
        assert {row["organisation"] for row in snap["sessions"]} == {a.pk}
        assert not {row["session"] for row in snap["sessions"]} & {s.pk for s in a_sessions[4:] + b_sessions}

        def get() -> dict:
            return staff.get(f"{URL}{job['id']}/").json()

        first = worker()
        deadline, seen = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            j = get()
            assert j["state"] in ("queued", "running"), j
            if (j["progress"].get("checkpoint_step") or 0) >= 2 * CKPT_EVERY:
                seen = j
                break
            time.sleep(0.1)
        assert seen, f"no checkpoint within 120 s: {get()}\n{first.log()[-3000:]}"
        first.kill()
        killed_at = get()["progress"]["step"]
        assert killed_at < STEPS, "the job finished before the kill: raise STEPS"
        assert get()["state"] == "running"

        time.sleep(STALE_S + 0.5)
        out = sweep_jobs()
        assert out["retried"] == [job["id"]], out
        j = get()
        assert j["state"] == "queued" and "no heartbeat" in j["reason"]
        worker()
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and get()["state"] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.2)
        j = get()
        assert j["state"] == "succeeded", (j, workers[-1].log()[-4000:])
        assert j["attempts"] == 2 and j["progress"]["step"] == STEPS and "registered as a candidate" in j["reason"]

        logs = [line["message"] for line in staff.get(f"{URL}{job['id']}/logs/").json()]
        resumed = [m for m in logs if m.startswith("resumed from step ")]
        assert len(resumed) == 1, logs
        n = int(resumed[0].split()[3])
        assert seen["progress"]["checkpoint_step"] <= n < STEPS and n % CKPT_EVERY == 0, (n, killed_at)
        assert any(m.startswith("warm start from encoder") for m in logs)
        print(f"\npretrain-encoder job: killed near step {killed_at}, resumed from step {n}, {STEPS} steps")
        # the second attempt ran only the steps after the checkpoint: the store's history has each step once
        history = [json.loads(x) for x in (store / "jobs" / str(job["id"]) / "metrics.jsonl").read_text().splitlines()]
        train_steps = [h["step"] for h in history if h["split"] == "train"]
        assert train_steps == list(range(10, STEPS + 1, 10))

        enc = EncoderVersion.objects.get(job_id=job["id"])
        model = store / "jobs" / str(job["id"]) / "model.pt"
        assert enc.status == "candidate" and enc.parent_id == parent.pk and enc.config_name == "tiny"
        assert enc.artifact_uri == f"file://{model.resolve()}"
        assert enc.file_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
        from gaitcore.model.checkpoint import load_checkpoint, weights_digest

        ck = load_checkpoint(model)
        assert enc.weights_digest == weights_digest(ck.model()) != parent.weights_digest
        assert enc.version_tag == ck.version_tag and enc.metrics["step"] == STEPS
        assert enc.metrics["resumed_from"] == n and enc.metrics["snapshot_hash"] == j["snapshot_hash"]
        assert ck.meta["data"]["sources"][0]["manifest"]["snapshot_hash"] == j["snapshot_hash"]
        assert len(ck.meta["data"]["train_sessions"]) + len(ck.meta["data"]["val_sessions"]) == 4
        assert j["encoder_produced"]["version_tag"] == enc.version_tag

        # the organisation's members never see the global job
        assert job["id"] not in {x["id"] for x in owner_a.get("/api/v1/training-jobs/").json()["results"]}
        assert owner_a.get(f"/api/v1/training-jobs/{job['id']}/").status_code == 404
        events = list(AuditEvent.unscoped.filter(organisation__isnull=True).values_list("action", flat=True))
        assert {"training_job.create", "encoder.register", "training_job.succeeded"} <= set(events)

        # the job's candidate is promoted (issue 26, acceptance, second half; heads refit, the go-live rule
        # and lineage of predictions: tests/workers/test_rollout.py): every session of both organisations
        # is re-embedded with it, then inference serves it by default; rollback restores the previous one
        from results.models import Embedding

        from tests.pipeline_support import store_windows
        from workers.encoders import live_encoder
        from workers.inference import get_client

        every = a_sessions + b_sessions
        store_windows(every, variants=2)
        before = get_client().model_version()
        assert before != enc.version_tag and live_encoder() is None
        r = staff.post(f"/api/v1/platform/encoders/{enc.pk}/promote/")
        assert r.status_code == 202, r.content
        rid = r.json()["id"]

        def rollout() -> dict:
            return staff.get(f"/api/v1/platform/encoder-rollouts/{rid}/").json()

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and rollout()["state"] not in ("live", "blocked", "failed"):
            time.sleep(0.3)
        got = rollout()
        assert got["state"] == "live", (got, workers[-1].log()[-4000:])
        assert got["progress"]["embedded"] == got["progress"]["total"] == len(every)
        for s in every:
            assert set(Embedding.unscoped.filter(session=s, task="ensemble").values_list("model_version", flat=True)
                       ) == {enc.version_tag}, s.pk
        assert live_encoder().pk == enc.pk and get_client().model_version() == enc.version_tag
        assert EncoderVersion.objects.get(pk=enc.pk).status == "active"
        r = staff.post(f"/api/v1/platform/encoder-rollouts/{rid}/rollback/", {"reason": "acceptance"}, format="json")
        assert r.status_code == 200 and r.json()["state"] == "rolled-back", r.content
        assert get_client().model_version() == before
        assert Embedding.unscoped.filter(model_version=enc.version_tag, task="ensemble").count() == len(every)  # kept
        print(f"promoted {enc.version_tag}: {len(every)} sessions re-embedded, live, rolled back to {before}")
    finally:
        for w in workers:
            w.stop()
        for p in patches:
            p.stop()
        celery.close()


def test_a_session_file_changed_after_the_snapshot_fails_the_job_with_the_reason(transactional_db, tmp_path, cohort,
                                                                                 monkeypatch):
    """The runner checks every file against the snapshot's SHA-256 before training on it."""
    from django.contrib.auth import get_user_model
    from django.core.files.storage import storages
    from registry.actions import start_pretrain_job
    from registry.models import TrainingJob
    from tenancy.audit import Actor

    from tests.platform.factories import make_org
    from workers.training import run_job

    monkeypatch.setenv("GAIT_CHECKPOINT_STORE", str(tmp_path / "store"))
    org = make_org("pool-t")
    org.pooled_pretraining = True
    org.save()
    sessions = seed(org, cohort[:2], [True, True])
    staff = get_user_model().objects.create_user("ops-t", is_staff=True)
    with mock.patch("registry.actions.send_task"):
        job = start_pretrain_job(Actor(user=staff, role="staff"), config={"config": "tiny", "steps": 5})
    st = storages["default"]
    st.delete(sessions[1].file_key)
    st.save(sessions[1].file_key, __import__("io").BytesIO(cohort[5]))  # same name, other bytes
    assert run_job(job.pk)["state"] == "failed"
    job = TrainingJob.unscoped.get(pk=job.pk)
    assert job.reason == f"the file of session {sessions[1].pk} does not match its SHA-256 in the snapshot"
    assert not (settings.VAR_DIR / "jobs" / str(job.pk)).exists()  # the copied files were removed
