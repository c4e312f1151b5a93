"""The jobs sweeper: no training job stays ``running`` after its worker died, nor ``queued`` forever.

* ``running`` with a heartbeat older than ``GAIT_JOB_STALE_AFTER_S`` (default 120; the runner stamps it
  every ``GAIT_JOB_HEARTBEAT_S``): its worker died (kill -9, OOM, node lost). It is queued again if it
  has attempts left (``GAIT_JOB_MAX_ATTEMPTS``, default 2), else it fails with the reason.
* ``queued`` for longer than ``GAIT_JOB_QUEUED_TIMEOUT_S`` (default 3600): dispatched again once (the
  message may have been lost), then failed with the reason at twice that age.
* ``cancel_requested`` on a job whose worker died: cancelled.

``sweep_jobs()`` is called by the beat task ``workers.training.sweep`` (and may be called by the session
sweeper); it returns what it did.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .training import _num, stale_after_s  # noqa: F401 - stale_after_s: the runner's claim uses the same

log = logging.getLogger("workers")


def max_attempts() -> int:
    return int(_num("GAIT_JOB_MAX_ATTEMPTS", 2))


def queued_timeout_s() -> float:
    return _num("GAIT_JOB_QUEUED_TIMEOUT_S", 3600)


def sweep_jobs(now=None) -> dict:
    from registry.models import JobState, TrainingJob

    from workers.training import DISPATCH_TASK_NAME, finish, job_log

    now = now or timezone.now()
    out = {"retried": [], "failed": [], "cancelled": [], "redispatched": []}
    stale = now - timedelta(seconds=stale_after_s())
    for job in TrainingJob.unscoped.filter(state=JobState.RUNNING, heartbeat_at__lt=stale):
        silent = int((now - job.heartbeat_at).total_seconds())
        why = f"the worker running it ({job.worker or 'unknown'}) stopped: no heartbeat for {silent} s"
        if job.cancel_requested:
            finish(job.pk, JobState.CANCELLED, f"cancelled; {why}")
            out["cancelled"].append(job.pk)
        elif job.attempts < max_attempts():
            with transaction.atomic():
                n = TrainingJob.unscoped.filter(pk=job.pk, state=JobState.RUNNING, heartbeat_at__lt=stale).update(
                    state=JobState.QUEUED, reason=f"retrying: {why}", worker="")
            if n:
                job_log(job.pk, f"retrying (attempt {job.attempts + 1} of {max_attempts()}): {why}", "warning")
                _send(DISPATCH_TASK_NAME, job.pk)
                out["retried"].append(job.pk)
        else:
            finish(job.pk, JobState.FAILED, f"{why}; {job.attempts} attempt(s), no retry left")
            out["failed"].append(job.pk)
    old = now - timedelta(seconds=queued_timeout_s())
    for job in TrainingJob.unscoped.filter(state=JobState.QUEUED, created_at__lt=old):
        if job.created_at < now - timedelta(seconds=2 * queued_timeout_s()):
            finish(job.pk, JobState.FAILED, f"no worker of the training queue picked it up in "
                   f"{int(2 * queued_timeout_s())} s")
            out["failed"].append(job.pk)
        elif not job.artifacts.get("redispatched"):
            TrainingJob.unscoped.filter(pk=job.pk).update(artifacts={**job.artifacts, "redispatched": now.isoformat()})
            _send(DISPATCH_TASK_NAME, job.pk)
            out["redispatched"].append(job.pk)
    if any(out.values()):
        log.warning("jobs sweeper: %s", out)
    return out


def _send(task: str, job_id: int) -> None:
    from workers.celery_app import app

    app.send_task(task, args=[job_id], queue="training")
