"""The session pipeline as Celery tasks: validate -> preprocess -> features -> embed -> predict -> aggregate.

* Arguments are ids: ``(session_id, organisation_id[, model_version])``, task names and routes are in
  ``recordings.dispatch`` (the API sends by name). Each task takes the session's lease for its step
  (``workers.leases``: a duplicate, late or redelivered message is a no-op), enters the organisation
  scope, runs its step (``workers.steps``), whose write transaction advances the session and puts the
  next message in the outbox; after the commit the next message is sent. A send that fails (broker
  down) or a database error after the commit is left to the sweeper, which sends the outbox message.
* ``acks_late`` + ``reject_on_worker_lost``: a worker killed mid-step leaves its message unacknowledged;
  its lease stops being renewed and the sweeper re-queues the step within ``GAIT_PIPELINE_LEASE_S`` plus
  one sweep period (``workers.sweeper``).
* Transient faults (inference unavailable, storage, database, broker, soft time limit) are retried with
  exponential backoff and jitter for ``GAIT_PIPELINE_RETRY_FOR_S`` (a duration, 1 hour by default) from
  the first fault of the step; the session says "waiting to retry ..." meanwhile, and fails with that
  reason when the time is spent. Bad data fails the session at once with a reason for clinicians.
  Anything else (a bug) fails it with an "internal error" reason, logged with its traceback.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections
from kombu.exceptions import OperationalError as BrokerError
from recordings.dispatch import TASK_NAME, WHAT, deliver

from workers import config, steps
from workers.leases import StepRun, Superseded

log = logging.getLogger("workers")

ENTRY = TASK_NAME["validate"]


def transient_errors() -> tuple[type[BaseException], ...]:
    from serving.client import InferenceUnavailable

    errs: list[type[BaseException]] = [steps.TransientFault, InferenceUnavailable, OperationalError, InterfaceError,
                                       SoftTimeLimitExceeded, OSError, ConnectionError, BrokerError]
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        errs += [BotoCoreError, ClientError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


def backoff(retries: int) -> float:
    """Exponential delay with jitter: uniformly in [d/2, d], d = min(cap, base * 2**retries)."""
    d = min(config.backoff_max_s(), config.backoff_s() * (2 ** retries))
    return d / 2 + random.uniform(0, d / 2)


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S UTC")


def run_step(task, step: str, session_id: int, organisation_id: int, fn, backfill: bool = False,
             since: float | None = None) -> dict:
    """Lease, scope, step, failure policy, next message. ``fn(run)`` returns the step's result dict."""
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    run = StepRun(session_id, step, task.request.id, backfill=backfill)
    try:
        org = Organisation.objects.filter(pk=organisation_id).first()
        skipped = None if org is None else run.acquire()
    except (OperationalError, InterfaceError) as exc:  # the database is away: this message waits for it
        close_old_connections()
        raise task.retry(exc=exc, countdown=backoff(task.request.retries), max_retries=None) from exc
    if org is None:
        return {"session": session_id, "status": "organisation deleted"}
    if skipped:
        log.info("session %s: %s: message %s is a no-op: %s", session_id, step, run.token, skipped)
        return {"session": session_id, "step": step, "status": "skipped", "reason": skipped}
    run.start_heartbeat()
    try:
        with organisation_scope(org):
            return _run(task, run, step, session_id, organisation_id, fn, since)
    finally:
        run.stop_heartbeat()


def _run(task, run: StepRun, step, session_id, organisation_id, fn, since) -> dict:
    try:
        log.info("session %s: %s started", session_id, step)
        result = fn(run) or {}
    except Superseded as exc:
        log.info("session %s: %s: superseded, nothing written: %s", session_id, step, exc)
        return {"session": session_id, "step": step, "status": "skipped", "reason": str(exc)}
    except steps.BadSessionData as exc:
        log.info("session %s: %s: bad data: %s", session_id, step, exc)
        _quietly(steps.fail, session_id, str(exc), run)  # database away: the lease expires, the sweeper re-queues
        return {"session": session_id, "status": "failed", "reason": str(exc)}
    except transient_errors() as exc:
        return _transient(task, run, step, session_id, exc, since)
    except Exception as exc:  # a bug: fail the session visibly, keep the traceback in the log
        log.exception("session %s: %s: internal error", session_id, step)
        _quietly(steps.fail, session_id, f"an internal error stopped {WHAT[step]} ({type(exc).__name__}); "
                 "the platform team has the details", run)
        return {"session": session_id, "status": "failed", "reason": "internal error"}
    log.info("session %s: %s done: %s", session_id, step, result)
    if run.next is not None:  # committed: from here on every error is left to the sweeper's outbox
        nxt, task_id = run.next
        args_mv = result.get("model_version", "")
        if run.backfill:
            _send_backfill(task, nxt, session_id, organisation_id, args_mv, task_id)
        else:
            deliver(session_id, organisation_id, nxt, task_id, args_mv, app=task.app)
    return {"session": session_id, "step": step, "status": "done" if step == "aggregate" else "advanced", **result}


def _transient(task, run: StepRun, step, session_id, exc, since) -> dict:
    if isinstance(exc, DatabaseError):
        close_old_connections()
    now = time.time()
    since = since or now
    budget = config.retry_for_s()
    if now - since >= budget:
        reason = (f"{WHAT[step]} did not succeed for {_duration(now - since)} ({_short(exc)}); "
                  "the session can be reprocessed once the service is back")
        log.warning("session %s: %s: giving up after %.0f s: %s", session_id, step, now - since, exc)
        if not _quietly(steps.fail, session_id, reason, run):
            raise task.retry(exc=exc, countdown=backoff(0), max_retries=None,
                             kwargs={**(task.request.kwargs or {}), "since": since}) from exc
        return {"session": session_id, "status": "failed", "reason": reason}
    countdown = min(backoff(task.request.retries), max(since + budget - now, 0.1))
    log.warning("session %s: %s: transient fault, retry %d in %.1f s: %s", session_id, step,
                task.request.retries + 1, countdown, exc)
    _quietly(run.hold_for, countdown, f"waiting to retry {WHAT[step]} (failing since {_clock(since)}, gives up "
             f"at {_clock(since + budget)}; retry {task.request.retries + 1}): {_short(exc)}")
    raise task.retry(exc=exc, countdown=countdown, max_retries=None, kwargs={**(task.request.kwargs or {}), "since": since})


def _send_backfill(task, step, session_id, organisation_id, model_version, task_id) -> None:
    args = [session_id, organisation_id] + ([model_version] if step in ("predict", "aggregate") else [])
    try:
        task.app.signature(TASK_NAME[step], args=args, kwargs={"backfill": True}).apply_async(task_id=task_id)
    except Exception as exc:  # noqa: BLE001 - a backfill run is resumed by rerunning the backfill
        log.warning("session %s: backfill: could not send %s: %s", session_id, step, exc)


def _quietly(fn, *args) -> bool:
    """Bookkeeping that must not turn a handled fault into a task error (the database may be away)."""
    try:
        return fn(*args) is not False
    except (DatabaseError, InterfaceError) as exc:
        close_old_connections()
        log.warning("bookkeeping %s failed: %s", getattr(fn, "__name__", fn), exc)
        return False


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def _opts(step: str) -> dict:
    soft, hard = config.TIME_LIMITS[step]
    return {"bind": True, "name": TASK_NAME[step], "acks_late": True, "reject_on_worker_lost": True,
            "ignore_result": True, "soft_time_limit": soft, "time_limit": hard, "max_retries": None}


@shared_task(**_opts("validate"))
def process_session(self, session_id: int, organisation_id: int, backfill: bool = False, since=None) -> dict:
    """Entry point (queued by the API on upload completion and by reprocess, and by the sweeper)."""
    return run_step(self, "validate", session_id, organisation_id, lambda r: steps.validate(session_id, r), backfill, since)


@shared_task(**_opts("preprocess"))
def preprocess(self, session_id: int, organisation_id: int, backfill: bool = False, since=None) -> dict:
    return run_step(self, "preprocess", session_id, organisation_id, lambda r: steps.preprocess(session_id, r),
                    backfill, since)


@shared_task(**_opts("features"))
def features(self, session_id: int, organisation_id: int, backfill: bool = False, since=None) -> dict:
    return run_step(self, "features", session_id, organisation_id, lambda r: steps.features(session_id, r),
                    backfill, since)


@shared_task(**_opts("embed"))
def embed(self, session_id: int, organisation_id: int, backfill: bool = False, since=None,
          version: str | None = None) -> dict:
    """``version``: embed with that registered encoder version (a rollout's backfill), not the live one."""
    def work(run):
        from workers.inference import get_client

        return steps.embed(session_id, get_client(version), run)

    return run_step(self, "embed", session_id, organisation_id, work, backfill, since)


@shared_task(**_opts("predict"))
def predict(self, session_id: int, organisation_id: int, model_version: str, backfill: bool = False,
            since=None, predictor_version: int | None = None) -> dict:
    """``predictor_version``: predict with that predictor version of the organisation (a rollout's new heads
    before they are the champion), not the champion."""
    return run_step(self, "predict", session_id, organisation_id,
                    lambda r: steps.predict(session_id, model_version, r, predictor_version)
                    | {"model_version": model_version}, backfill, since)


@shared_task(**_opts("aggregate"))
def aggregate(self, session_id: int, organisation_id: int, model_version: str, backfill: bool = False,
              since=None) -> dict:
    return run_step(self, "aggregate", session_id, organisation_id,
                    lambda r: steps.aggregate(session_id, model_version, r) | {"model_version": model_version},
                    backfill, since)
