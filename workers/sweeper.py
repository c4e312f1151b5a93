"""The periodic sweeper (celery beat, every ``GAIT_PIPELINE_SWEEP_EVERY_S``): no session is left waiting
for a message that nobody will deliver.

For each session in ``uploaded``/``validating``/``processing``:

* **outbox** -- its next message was never handed to the broker (``sent_at`` empty: the broker was down
  when the upload completed or when a step finished, or the database failed right after the send):
  send it now, with its task id;
* **live lease** -- a worker runs its step (or waits to retry it): leave it alone;
* **expired lease** -- the worker died (its renewals stopped): re-queue the step at once;
* **sent, no lease** -- ask the broker (Redis: the queues and the unacknowledged set) whether the message
  is still there. Queued: a backlog, not stuck (the session keeps saying it is queued). Gone, or
  delivered to a consumer that never took the lease: lost, re-queue the step. Brokers that cannot be
  asked count a message as lost only after ``GAIT_PIPELINE_STUCK_AFTER_S``.

A re-queue sends the current step again with a new task id and counts an attempt; a session that used
``GAIT_PIPELINE_MAX_ATTEMPTS`` fails with a reason saying so.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone
from recordings.dispatch import ACTIVE, QUEUE, WHAT, deliver, deliver_row, new_task_id, queued_reason, unsent

from . import config, steps
from .leases import hhmm

log = logging.getLogger("workers")

OUTBOX_GRACE_S = 5  # a step's own send follows its commit within this


def broker_messages(app) -> dict[str, float | None] | None:
    """Task ids the broker holds: {id: None (queued) or delivery time (unacknowledged)}; None when this
    broker cannot be inspected (only Redis can)."""
    if not str(app.conf.broker_url).startswith(("redis://", "rediss://")):
        return None
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        client = channel.client
        out: dict[str, float | None] = {}
        for queue in {*QUEUE.values(), "default"}:
            for pri in channel.priority_steps:
                key = f"{queue}{channel.sep}{pri}" if pri else queue
                for raw in client.lrange(key, 0, -1):
                    out[_task_id(raw)] = None
        index = dict(client.zrange(channel.unacked_index_key, 0, -1, withscores=True))
        for tag, raw in client.hgetall(channel.unacked_key).items():
            out[_task_id(json.loads(raw)[0])] = index.get(tag, 0.0)
        out.pop(None, None)
        return out


def _task_id(msg) -> str | None:
    try:
        msg = json.loads(msg) if isinstance(msg, (bytes, str)) else msg
        return msg["headers"]["id"]
    except (ValueError, KeyError, TypeError):
        return None


def sweep_stuck_sessions(now=None, app=None) -> dict:
    from recordings.models import GaitSession

    if app is None:
        from workers.celery_app import app
    now = now or timezone.now()
    sent, requeued, failed = [], [], []
    for s in unsent(older_than_s=OUTBOX_GRACE_S):
        if deliver_row(s, app):
            sent.append(s.pk)
    active = list(GaitSession.unscoped.filter(status__in=ACTIVE).exclude(pk__in=sent).select_related("organisation")
                  .order_by("pk"))
    lease = timedelta(seconds=config.lease_s())
    try:  # read the broker's queues only when some sent message has had time to start
        held = broker_messages(app) if any(s.sent_at and not s.lease_until and s.sent_at <= now - lease
                                           for s in active) else {}
    except Exception as exc:  # noqa: BLE001 - broker away: judge nothing by it this time
        log.warning("sweeper: cannot inspect the broker: %s", exc)
        held = {s.task_id: None for s in active}
    for s in active:
        if s.lease_until is not None:
            if s.lease_until >= now:
                continue
            why = f"the worker running {WHAT.get(s.step, s.step)} stopped responding (lease expired at {hhmm(s.lease_until)})"
        elif s.sent_at is None:
            continue  # the outbox above (or a send in progress)
        elif held is None:
            if s.sent_at > now - timedelta(seconds=config.stuck_after_s()):
                continue
            why = f"no worker started {WHAT.get(s.step, s.step)} for {config.stuck_after_s() // 60} minutes"
        else:
            if s.task_id in held and (held[s.task_id] is None or held[s.task_id] > (now - lease).timestamp()):
                continue  # queued (a backlog), or just delivered
            if s.sent_at > now - lease:
                continue
            why = f"its message for {WHAT.get(s.step, s.step)} was lost by the task queue"
        (requeued if _recover(s, why, app) else failed).append(s.pk)
    if sent or requeued or failed:
        log.warning("sweeper: sent %s, re-queued %s, failed %s", sent, requeued, failed)
    return {"sent": sent, "requeued": requeued, "failed": failed}


def _recover(s, why: str, app) -> bool:
    """Re-queue the session's current step (True), or fail it when it used its attempts (False)."""
    from recordings.models import GaitSession
    from tenancy.scope import organisation_scope

    if s.attempts >= config.max_attempts():
        with organisation_scope(s.organisation):
            steps.fail(s.pk, f"processing did not finish after {s.attempts} attempts ({why}); "
                             "the session can be reprocessed")
        return False
    task_id, attempt = new_task_id(), max(s.attempts, 1) + 1  # the lost first run counts as one
    n = GaitSession.unscoped.filter(pk=s.pk, task_id=s.task_id, lease_owner=s.lease_owner, status__in=ACTIVE).update(
        task_id=task_id, sent_at=None, lease_owner="", lease_until=None, attempts=attempt, updated_at=timezone.now(),
        status_reason=f"re-queued: {why}; {queued_reason(s.step)} (attempt {attempt} of {config.max_attempts()})")
    if n:
        deliver(s.pk, s.organisation_id, s.step, task_id, s.model_version, app=app)
    return True


@shared_task(name="workers.pipeline.sweep", ignore_result=True, soft_time_limit=120, time_limit=180)
def sweep() -> dict:
    """Send what the outbox holds, re-queue steps of dead workers and lost messages, fail exhausted ones."""
    return sweep_stuck_sessions()
