"""Encoder promotion end to end: PostgreSQL, Redis as the broker, a real Celery worker process, in-process
inference, the staff API.

Two organisations: ``A`` has its own champion heads (fitted on the shipped encoder's rows, representations
gait + body), ``B`` only the file-configured demo predictor of the shipped encoder. A candidate encoder (a
real ``tiny`` checkpoint in a file:// store) is promoted: every session is re-embedded with it (old
embeddings kept), A's heads are re-fitted through the gate and predict A's sessions, B is named by the
go-live rule (its demo predictor has no artifact for the new encoder) until staff override with a reason;
then the new encoder is the default, A's champion moves, a newly uploaded session is embedded and predicted
by the new bundle, predictions carry their lineage; rollback restores the previous default, champion and
predictions shown.
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from unittest import mock

import pytest
from rest_framework.test import APIClient

from tests.helpers import REPO
from tests.pipeline_support import WorkerHarness, store_windows, synthetic_session_bytes, tiny_checkpoint
from tests.platform.sessionfiles import sha256
from tests.registry_support import seed_organisation, shipped_encoder
from tests.services import redis_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

N_A, N_B = 36, 6


def register_candidate(folder) -> object:
    """A real checkpoint written to a file:// checkpoint store and registered as a candidate."""
    from registry import actions
    from tenancy.audit import Actor

    from gaitcore.model.checkpoint import load_checkpoint, weights_digest

    path = tiny_checkpoint(folder, seed=3, run_id="rollout-v2")
    ckpt = load_checkpoint(path)
    return actions.register_encoder(Actor.system(), version_tag=ckpt.version_tag, config_name=ckpt.config.name,
                                    weights_digest=weights_digest(ckpt.model()), artifact_uri=f"file://{path}",
                                    file_sha256=hashlib.sha256(path.read_bytes()).hexdigest())


class Platform(WorkerHarness):
    def __init__(self, tmp_path, broker):
        from django.contrib.auth import get_user_model
        from recordings.dispatch import TASK_ROUTES
        from tenancy.models import Role

        from tests.platform.factories import make_org, make_token

        self.a, self.b = make_org("roll-a"), make_org("roll-b")
        self.staff = APIClient()
        self.staff.force_authenticate(get_user_model().objects.create_user("staff", password="pw-123456789",
                                                                            is_staff=True))
        self.a_admin = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token(self.a, Role.ADMIN)}")
        self.a_clinician = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token(self.a, Role.CLINICIAN)}")
        self.b_clinician = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token(self.b, Role.CLINICIAN)}")
        super().__init__(
            tmp_path, broker, routes=TASK_ROUTES, set_as_current=False,
            env={"GAIT_ROLLOUT_TICK_S": "0.3", "GAIT_ROLLOUT_BATCH": "16", "GAIT_INFERENCE_BACKEND": "inprocess",
                 "GAIT_PREDICTOR": str(REPO / "gaitcore" / "model" / "checkpoints" / "demo-predictor")},
            extra_patches=lambda celery: [mock.patch("recordings.dispatch.api_app", return_value=celery)])

    def wait(self, what, check, timeout: float = 300):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.3)
        raise AssertionError(f"{what}: not reached in {timeout} s ({last})\n{self.logs()}")

    def rollout(self, rid: int) -> dict:
        r = self.staff.get(f"/api/v1/platform/encoder-rollouts/{rid}/")
        assert r.status_code == 200, r.content
        return r.json()

    def upload(self, subject, data: bytes, client=None) -> int:
        from gaitcore.sessionfile import from_bytes

        client = client or self.a_clinician
        body = {"subject": subject.pk, "format": "gait-session", "size": len(data), "sha256": sha256(data),
                "tasks": [t.task for t in from_bytes(data).tasks], "filename": "new.gait.npz"}
        up = client.post("/api/v1/uploads/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        assert up.status_code == 201, up.content
        uid = up.json()["id"]
        r = client.put(f"/api/v1/uploads/{uid}/chunk/", data,
                                 content_type="application/offset+octet-stream", HTTP_UPLOAD_OFFSET="0")
        assert r.status_code in (200, 204), r.content
        r = client.post(f"/api/v1/uploads/{uid}/complete/")
        assert r.status_code == 201, r.content
        return r.json()["id"]


@pytest.fixture
def plat(transactional_db, tmp_path):
    broker = redis_url(14)
    import redis

    redis.Redis.from_url(broker).flushdb()
    p = Platform(tmp_path, broker)
    yield p
    p.close()


def champion_of(org):
    from registry.models import Alias
    from tenancy.scope import organisation_scope

    with organisation_scope(org):
        return Alias.objects.get(name="champion").predictor_id


def test_promote_backfill_refit_go_live_lineage_rollback(plat, tmp_path):
    from recordings.models import GaitSession
    from registry import actions
    from registry.models import Alias, AliasEvent, EncoderVersion
    from results.models import Embedding, Prediction
    from tenancy.audit import Actor, AuditEvent
    from tenancy.scope import organisation_scope

    from workers.encoders import live_encoder

    old = shipped_encoder()
    EncoderVersion.objects.filter(pk=old.pk).update(artifact_uri="gaitcore/model/checkpoints/gaitmae-small.pt")
    data_a = seed_organisation(plat.a, N_A)
    data_b = seed_organisation(plat.b, N_B, first=5000, prefix="B")
    store_windows(data_a["sessions"] + data_b["sessions"])
    table = plat.a_admin.post("/api/v1/phenotype-tables/", {"name": "labels", "cohort": data_a["cohort"].pk,
                              "file": _csv(data_a["csv"])}, format="multipart")
    assert table.status_code == 201, table.content
    plat.worker()

    # A's champion: heads on the shipped encoder, gait + body representations, predicting every session
    with organisation_scope(plat.a):
        job = actions.start_job(Actor.system(), kind="finetune-heads", label_table=_table(table.json()["id"]),
                                config={"representations": ["gait", "body"], "targets": ["age", "bmi", "lean_mass"],
                                        "sex_specific": []})
    plat.wait("champion job", lambda: _job_state(plat.a, job.pk) in ("succeeded", "failed"), 240)
    assert _job_state(plat.a, job.pk) == "succeeded", plat.logs()
    with organisation_scope(plat.a):
        v1 = job.__class__.objects.get(pk=job.pk).predictor
        actions.promote(Actor.system(), v1)
        actions.repredict(Actor.system(), Alias.objects.get(name="champion"))
    a_ids = [s.pk for s in data_a["sessions"]]
    plat.wait("old-bundle predictions", lambda: set(Prediction.unscoped.filter(
        session_id__in=a_ids, predictor_version=v1).values_list("session_id", flat=True)) == set(a_ids))

    # only staff reach the platform API
    cand = register_candidate(tmp_path / "store")
    assert plat.a_admin.get("/api/v1/platform/encoders/").status_code == 403
    assert plat.a_admin.post(f"/api/v1/platform/encoders/{cand.pk}/promote/").status_code == 403
    listed = plat.staff.get("/api/v1/platform/encoders/").json()["results"]
    assert {e["version_tag"]: e["status"] for e in listed}[cand.version_tag] == "candidate"

    r = plat.staff.post(f"/api/v1/platform/encoders/{cand.pk}/promote/")
    assert r.status_code == 202, r.content
    rid = r.json()["id"]
    assert plat.staff.post(f"/api/v1/platform/encoders/{cand.pk}/promote/").status_code == 400  # one at a time
    seen = []
    got = plat.wait("rollout blocked on B", lambda: (seen.append(x := plat.rollout(rid)) or
                                                     (x if x["state"] in ("blocked", "failed", "live") else None)), 420)
    assert got["state"] == "blocked", got
    assert any(s["state"] == "backfilling" and s["progress"].get("total") for s in seen), seen[:3]
    assert [b["slug"] for b in got["verdict"]["blocking"]] == ["roll-b"]
    assert "no predictor for the new encoder" in got["verdict"]["blocking"][0]["why"]
    res_a = got["results"][str(plat.a.pk)]
    assert res_a["kind"] == "heads" and res_a["gate"]["passed"], res_a
    assert got["progress"]["embedded"] == got["progress"]["total"] == N_A + N_B
    assert got["progress"]["organisations_refitted"] == got["progress"]["organisations"] == 2
    assert live_encoder() is None and champion_of(plat.a) == v1.pk  # nothing is live yet

    # every session has embeddings of both versions; A's sessions are predicted by the new heads too
    for s in data_a["sessions"] + data_b["sessions"]:
        versions = set(Embedding.unscoped.filter(session=s, task="ensemble").values_list("model_version", flat=True))
        assert versions == {old.version_tag, cand.version_tag}, (s.pk, versions)
    v2 = res_a["predictor"]
    assert set(Prediction.unscoped.filter(predictor_version_id=v2).values_list("session_id", flat=True)) == set(a_ids)

    # a session uploaded during the rollout is processed by the current default (the shipped encoder) ...
    during = plat.upload(data_b["subjects"][0], synthetic_session_bytes(seed=55), plat.b_clinician)
    plat.wait("session during the rollout", lambda: GaitSession.unscoped.get(pk=during).status in ("done", "failed"))
    assert GaitSession.unscoped.get(pk=during).status == "done", plat.logs()
    assert set(Embedding.unscoped.filter(session_id=during).values_list("model_version", flat=True)) == {old.version_tag}

    # staff override with a written reason -> live
    assert plat.staff.post(f"/api/v1/platform/encoder-rollouts/{rid}/override/", {"reason": " "},
                           format="json").status_code == 400
    r = plat.staff.post(f"/api/v1/platform/encoder-rollouts/{rid}/override/",
                        {"reason": "B uses the demo predictor only; it is told and refits next week"}, format="json")
    assert r.status_code == 200, r.content
    live = plat.wait("live", lambda: (x := plat.rollout(rid))["state"] == "live" and x["finished_at"] and x, 240)
    assert live_encoder().pk == cand.pk and champion_of(plat.a) == v2
    # ... and the catch-up before go-live re-embedded it with the new one (the old kept)
    assert set(Embedding.unscoped.filter(session_id=during, task="ensemble").values_list("model_version", flat=True)
               ) == {old.version_tag, cand.version_tag}
    assert EncoderVersion.objects.get(pk=cand.pk).status == "active"
    with organisation_scope(plat.a):
        ev = AliasEvent.objects.get(pk=live["alias_events"][0])
        assert (ev.from_predictor_id, ev.to_predictor_id, ev.action) == (v1.pk, v2, "promote")
    assert AuditEvent.unscoped.filter(organisation=None, action="encoder.rollout.live").exists()
    assert AuditEvent.unscoped.filter(organisation=None, action="encoder.rollout.override").exists()

    # a session uploaded now is embedded by the new default encoder and predicted by the new bundle
    with organisation_scope(plat.a):
        subject = data_a["subjects"][0]
    sid = plat.upload(subject, synthetic_session_bytes(seed=77))
    plat.wait("new session done", lambda: GaitSession.unscoped.get(pk=sid).status in ("done", "failed"), 240)
    assert GaitSession.unscoped.get(pk=sid).status == "done", plat.logs()
    new_preds = plat.a_clinician.get("/api/v1/predictions/", {"session": sid}).json()["results"]
    assert new_preds and {p["model_version"] for p in new_preds} == {cand.version_tag}
    lin = new_preds[0]["lineage"]
    assert lin["encoder"]["version_tag"] == cand.version_tag and lin["encoder"]["weights_digest"] == cand.weights_digest
    assert lin["predictor"]["id"] == v2 and lin["predictor"]["job"] == res_a["job"] and lin["live"]
    assert lin["predictor"]["snapshot_hash"]

    # lineage of an older session shows both bundles; the live one is the new
    both = plat.a_clinician.get("/api/v1/predictions/", {"session": a_ids[0], "limit": 500}).json()["results"]
    assert {(p["lineage"]["encoder"]["version_tag"], p["lineage"]["predictor"]["id"], p["lineage"]["live"])
            for p in both} == {(old.version_tag, v1.pk, False), (cand.version_tag, v2, True)}
    shown = plat.a_clinician.get("/api/v1/predictions/", {"session": a_ids[0], "live": "true"}).json()["results"]
    assert {p["predictor_version"] for p in shown} == {v2}

    # rollback: the previous default, A's previous champion, the previous bundle's predictions shown
    assert plat.a_admin.post(f"/api/v1/platform/encoder-rollouts/{rid}/rollback/", {}, format="json").status_code == 403
    r = plat.staff.post(f"/api/v1/platform/encoder-rollouts/{rid}/rollback/", {"reason": "drift seen"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "rolled-back", r.content
    assert live_encoder().pk == old.pk and champion_of(plat.a) == v1.pk
    assert EncoderVersion.objects.get(pk=cand.pk).status == "retired"
    shown = plat.a_clinician.get("/api/v1/predictions/", {"session": a_ids[0], "live": "true"}).json()["results"]
    assert {p["predictor_version"] for p in shown} == {v1.pk}
    with organisation_scope(plat.a):
        assert AliasEvent.objects.order_by("-id").first().action == "rollback"
        from dashboards.selectors import subject_predictions

        s0 = GaitSession.objects.get(pk=a_ids[0])
        page = subject_predictions(s0, s0.subject)
    assert {c.model_name for c in page["cards"]} == {v1.name}
    assert page["lineage"]["predictor"]["id"] == v1.pk and page["lineage"]["encoder"]["version_tag"] == old.version_tag
    assert Embedding.unscoped.filter(model_version=cand.version_tag).exists()  # kept, keyed by version


def _csv(text: str):
    f = io.BytesIO(text.encode())
    f.name = "labels.csv"
    return f


def _table(pk: int):
    from cohorts.models import PhenotypeTable

    return PhenotypeTable.objects.get(pk=pk)


def _job_state(org, pk: int) -> str:
    from registry.models import TrainingJob

    return TrainingJob.unscoped.get(pk=pk).state


def test_worker_killed_mid_backfill_the_rollout_resumes_and_goes_live(plat, tmp_path, monkeypatch):
    """kill -9 of the only worker while sessions are re-embedded, and the queued tick lost with it: the
    sweeper starts a new chain of ticks
    (``sweep_rollouts``; the beat runs it every 60 s, called here), a new worker finishes the backfill and
    the rollout goes live; no session is left without the new version."""
    from registry.models import EncoderRollout, EncoderVersion
    from results.models import Embedding

    from workers.rollout import sweep_rollouts

    old = shipped_encoder()
    EncoderVersion.objects.filter(pk=old.pk).update(artifact_uri="gaitcore/model/checkpoints/gaitmae-small.pt")
    data = seed_organisation(plat.a, 24)
    store_windows(data["sessions"])
    cand = register_candidate(tmp_path / "store")
    plat.env.update({"GAIT_PREDICTOR": str(tmp_path / "no-predictors"), "GAIT_PIPELINE_DELAY": "embed:0.5",
                     "GAIT_ROLLOUT_BATCH": "4", "GAIT_ROLLOUT_BATCH_TIMEOUT_S": "6", "GAIT_PIPELINE_LEASE_S": "3",
                     "GAIT_BROKER_VISIBILITY_TIMEOUT": "10"})
    first = plat.worker()
    rid = plat.staff.post(f"/api/v1/platform/encoders/{cand.pk}/promote/").json()["id"]
    plat.wait("some sessions embedded", lambda: 4 <= (plat.rollout(rid)["progress"].get("embedded") or 0) < 20, 120)
    first.kill()
    import redis

    redis.Redis.from_url(plat.env["GAIT_BROKER_URL"]).delete("training")  # its next tick is lost too
    stuck = plat.rollout(rid)
    assert stuck["state"] == "backfilling"
    plat.worker()
    monkeypatch.setenv("GAIT_JOB_STALE_AFTER_S", "1")
    time.sleep(1.5)
    with mock.patch("registry.actions.send_task", side_effect=lambda n, a, q, k=None: plat.celery.send_task(
            n, args=a, queue=q)):
        from django.db import transaction

        with transaction.atomic():
            assert sweep_rollouts()["restarted"] == [rid]
    done = plat.wait("live after the kill", lambda: (x := plat.rollout(rid))["state"] in ("live", "failed")
                     and x["finished_at"] and x, 240)
    assert done["state"] == "live" and done["attempts"] == 1, (done["reason"], done["progress"])
    assert not done["progress"].get("skipped"), done["progress"]
    ids = {s.pk for s in data["sessions"]}
    assert set(Embedding.unscoped.filter(model_version=cand.version_tag, task="ensemble",
                                         session_id__in=ids).values_list("session_id", flat=True)) == ids
    assert EncoderRollout.objects.get(pk=rid).to_encoder.is_default
