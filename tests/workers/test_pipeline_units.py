"""Sweeper, backfill selection and retry backoff (database only; no broker or worker)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from tests.platform.factories import make_org, seed_everything

pytestmark = pytest.mark.django_db


def _session(org, tag, status, attempts=0, age_s=0):
    from recordings.models import GaitSession
    from tenancy.scope import organisation_scope

    objs = seed_everything(org, tag)
    s = objs["gaitsession"][0]
    with organisation_scope(org):
        GaitSession.objects.filter(pk=s.pk).update(status=status, attempts=attempts,
                                                   updated_at=timezone.now() - timedelta(seconds=age_s))
    return s.pk


def _set(pk, **fields):
    from recordings.models import GaitSession

    GaitSession.unscoped.filter(pk=pk).update(**fields)
    return GaitSession.unscoped.get(pk=pk)


@pytest.fixture
def broker(redis_url):
    """A Celery app on a Redis database of its own (emptied), routed as the platform routes."""
    import redis
    from celery import Celery
    from recordings.dispatch import TASK_ROUTES

    from workers.celery_app import app as workers_app

    url = redis_url.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(url).flushdb()
    app = Celery("sweeper-test", broker=url, set_as_current=False)
    app.conf.task_routes = TASK_ROUTES
    yield app
    app.close()
    workers_app.set_current()  # the pipeline's tasks resolve through the current app: give it back


def test_sweeper_tells_backlog_from_lost_messages_and_dead_workers(monkeypatch, broker):
    from recordings.dispatch import TASK_NAME

    from workers.sweeper import broker_messages, sweep_stuck_sessions

    monkeypatch.setenv("GAIT_PIPELINE_STUCK_AFTER_S", "600")
    monkeypatch.setenv("GAIT_PIPELINE_LEASE_S", "60")
    monkeypatch.setenv("GAIT_PIPELINE_MAX_ATTEMPTS", "3")
    org = make_org("sweep")
    now, hour_ago = timezone.now(), timezone.now() - timedelta(hours=1)
    ids = {name: _session(org, name, "processing", attempts=1, age_s=3600) for name in
           ("outbox", "alive", "dead", "backlog", "lost", "exhausted", "done")}
    _set(ids["outbox"], step="features", task_id="t-outbox", sent_at=None, updated_at=hour_ago)
    _set(ids["alive"], step="embed", task_id="t-alive", sent_at=hour_ago, lease_owner="t-alive",
         lease_until=now + timedelta(seconds=30))
    _set(ids["dead"], step="embed", task_id="t-dead", sent_at=hour_ago, lease_owner="t-dead",
         lease_until=now - timedelta(seconds=5))
    _set(ids["backlog"], step="embed", task_id="t-backlog", sent_at=hour_ago)
    broker.send_task(TASK_NAME["embed"], args=[ids["backlog"], org.pk], task_id="t-backlog")  # still queued
    _set(ids["lost"], step="predict", task_id="t-lost", sent_at=hour_ago, model_version="v1")
    _set(ids["exhausted"], step="embed", task_id="t-ex", sent_at=hour_ago, attempts=3, lease_owner="t-ex",
         lease_until=now - timedelta(seconds=5))
    _set(ids["done"], status="done", step="", sent_at=hour_ago)

    out = sweep_stuck_sessions(app=broker)

    assert out == {"sent": [ids["outbox"]], "requeued": [ids["dead"], ids["lost"]], "failed": [ids["exhausted"]]}
    rows = {k: _set(pk) for k, pk in ids.items()}
    held = broker_messages(broker)
    assert {"t-outbox", "t-backlog"} <= set(held) and "t-lost" not in held
    assert rows["outbox"].sent_at is not None and rows["outbox"].attempts == 1
    for k in ("dead", "lost"):
        r = rows[k]
        assert r.task_id in held and r.attempts == 2 and r.lease_owner == "" and r.sent_at is not None
        assert r.status_reason.startswith("re-queued: ") and "attempt 2 of 3" in r.status_reason
    assert "stopped responding" in rows["dead"].status_reason
    assert "lost by the task queue" in rows["lost"].status_reason
    assert rows["backlog"].task_id == "t-backlog" and rows["backlog"].attempts == 1  # a backlog is not stuck
    assert rows["alive"].task_id == "t-alive"
    assert rows["exhausted"].status == "failed" and "did not finish after 3 attempts" in rows["exhausted"].status_reason
    assert rows["done"].status == "done"
    # the lost predict step goes again with its model version
    assert sweep_stuck_sessions(app=broker) == {"sent": [], "requeued": [], "failed": []}


def test_sweeper_without_an_inspectable_broker_waits_for_the_stuck_threshold(monkeypatch):
    from celery import Celery

    from workers.sweeper import sweep_stuck_sessions

    monkeypatch.setenv("GAIT_PIPELINE_STUCK_AFTER_S", "600")
    org = make_org("sweep2")
    recent = _session(org, "a", "processing", attempts=1)
    old = _session(org, "b", "processing", attempts=1)
    _set(recent, step="embed", task_id="t1", sent_at=timezone.now() - timedelta(seconds=300))
    _set(old, step="embed", task_id="t2", sent_at=timezone.now() - timedelta(seconds=900))
    app = Celery("amqp-test", broker="amqp://127.0.0.1:1//", set_as_current=False)
    with mock.patch("recordings.dispatch.send", return_value=True) as send:
        out = sweep_stuck_sessions(app=app)
    assert out["requeued"] == [old] and send.call_count == 1


def test_a_message_runs_only_for_its_step_one_holder_at_a_time():
    from workers.leases import StepRun, Superseded

    org = make_org("lease")
    sid = _session(org, "a", "processing", attempts=1)
    _set(sid, step="features")
    assert StepRun(sid, "embed", "m1").acquire() == "session is at step features"  # a late or early message
    first, second = StepRun(sid, "features", "m2"), StepRun(sid, "features", "m3")
    assert first.acquire() is None
    assert "another task holds the session" in second.acquire()  # a duplicate while the first runs
    assert first.acquire() is None  # the holder's own retry
    _set(sid, lease_until=timezone.now() - timedelta(seconds=1))  # the first one's worker died
    assert second.acquire() is None
    from django.db import transaction

    with transaction.atomic(), pytest.raises(Superseded):
        first.lock()  # the dead one's late commit writes nothing
    with transaction.atomic():
        second.advance(second.lock())
    row = _set(sid)
    assert (row.step, row.lease_owner, row.sent_at) == ("embed", "", None) and row.task_id == second.next[1]
    assert StepRun(sid, "features", "m2").acquire() == "session is at step embed"  # redelivered: a no-op


def test_failed_is_never_overwritten_by_a_late_step():
    from workers import steps
    from workers.leases import StepRun

    org = make_org("late")
    sid = _session(org, "a", "processing", attempts=1)
    _set(sid, step="embed")
    from tenancy.scope import organisation_scope

    run = StepRun(sid, "embed", "m1")
    assert run.acquire() is None
    with organisation_scope(org):
        assert steps.fail(sid, "processing did not finish after 3 attempts") is True  # the sweeper gave up
        assert steps.fail(sid, "late failure of the old run", run) is False
    assert run.acquire() == "session is failed"
    row = _set(sid)
    assert row.status == "failed" and row.status_reason.startswith("processing did not finish")


def test_reprocess_is_refused_while_pending_and_resets_the_attempts():
    from gaitsite.api import APIError
    from recordings.actions import reprocess_session
    from tenancy.audit import Actor
    from tenancy.scope import organisation_scope

    org = make_org("rep")
    sid = _session(org, "a", "failed", attempts=3)
    _set(sid, step="", status_reason="processing did not finish after 3 attempts")
    with organisation_scope(org), mock.patch("recordings.dispatch.send", return_value=True) as send:
        from recordings.models import GaitSession

        s = reprocess_session(Actor.system(), GaitSession.objects.get(pk=sid))
        assert (s.status, s.step, s.attempts) == ("uploaded", "validate", 0)
        with pytest.raises(APIError) as err:
            reprocess_session(Actor.system(), GaitSession.objects.get(pk=sid))
    assert err.value.status_code == 409
    assert send.call_count <= 1  # on_commit: not run inside the test transaction


def test_backfill_selects_done_sessions_without_the_new_version():
    from results.models import Embedding
    from tenancy.scope import organisation_scope

    from workers.backfill import pending_sessions

    org = make_org("backfill")
    old = _session(org, "a", "done")
    new = _session(org, "b", "done")
    _session(org, "c", "processing")
    with organisation_scope(org):
        Embedding.objects.create(session_id=new, task="ensemble", model_name="gaitmae", model_version="v2", vector=[0.0])
    assert pending_sessions("v2") == [(old, org.pk)]
    assert sorted(pending_sessions("v3")) == sorted([(old, org.pk), (new, org.pk)])


def test_backoff_grows_exponentially_with_jitter_and_a_cap(monkeypatch):
    from workers.tasks.pipeline import backoff

    monkeypatch.setenv("GAIT_PIPELINE_RETRY_BACKOFF_S", "2")
    monkeypatch.setenv("GAIT_PIPELINE_RETRY_BACKOFF_MAX_S", "60")
    for n, full in [(0, 2), (1, 4), (3, 16), (10, 60)]:
        values = [backoff(n) for _ in range(50)]
        assert all(full / 2 <= v <= full for v in values)
        assert len(set(values)) > 1


def test_a_backfill_that_brings_predictions_clears_the_no_predictions_note():
    """A session finished while no predictor fitted its encoder (e.g. during an encoder rollout's switch)
    says so; the rollout's catch-up predicts it with the new bundle, and its aggregate clears the note."""
    from results.models import Prediction
    from tenancy.scope import organisation_scope

    from workers import steps
    from workers.leases import StepRun

    org = make_org("note")
    sid = _session(org, "n", "done")
    _set(sid, status_reason=f"{steps.NO_PREDICTOR} for model v2; features and embeddings are available, "
                            "predictions are not")
    with organisation_scope(org):
        run = StepRun(sid, "aggregate", "bf1", backfill=True)
        assert run.acquire() is None
        steps.aggregate(sid, "v1", run)  # no prediction of v1: the note stays
    assert _set(sid).status_reason.startswith(steps.NO_PREDICTOR)
    with organisation_scope(org):
        Prediction.objects.create(session_id=sid, phenotype="age", body_system="x", value=50.0, model_name="p",
                                  model_version="v2")
        run = StepRun(sid, "aggregate", "bf2", backfill=True)
        assert run.acquire() is None
        steps.aggregate(sid, "v2", run)
    s = _set(sid)
    assert s.status == "done" and s.status_reason == ""
