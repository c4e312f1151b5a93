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


def test_sweeper_requeues_stuck_sessions_and_fails_exhausted_ones(monkeypatch):
    from recordings.models import GaitSession

    from workers.sweeper import sweep_stuck_sessions

    monkeypatch.setenv("GAIT_PIPELINE_STUCK_AFTER_S", "600")
    monkeypatch.setenv("GAIT_PIPELINE_MAX_ATTEMPTS", "3")
    org = make_org("sweep")
    stuck = _session(org, "a", "processing", attempts=1, age_s=3600)
    exhausted = _session(org, "b", "validating", attempts=3, age_s=3600)
    fresh = _session(org, "c", "processing", attempts=1, age_s=10)
    done = _session(org, "d", "done", attempts=1, age_s=3600)
    with mock.patch("workers.celery_app.app.send_task") as send:
        out = sweep_stuck_sessions()
    assert out == {"requeued": [stuck], "failed": [exhausted]}
    send.assert_called_once_with("workers.pipeline.process_session", args=[stuck, org.pk])
    rows = {s.pk: s for s in GaitSession.unscoped.filter(pk__in=[stuck, exhausted, fresh, done])}
    assert rows[exhausted].status == "failed" and "did not finish after 3 attempts" in rows[exhausted].status_reason
    assert rows[stuck].status == "processing" and "re-queued" in rows[stuck].status_reason
    assert rows[fresh].status_reason == "" and rows[done].status == "done"


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
