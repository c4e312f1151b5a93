"""The session pipeline as Celery tasks: validate -> preprocess -> features -> embed -> predict -> aggregate.

* Arguments are ids: ``(session_id, organisation_id[, model_version])``. Each task enters the
  organisation scope explicitly, runs its step (``workers.steps``), and only then sends the next task
  (so a step is never started before the previous one committed). The API queues the first task,
  ``workers.pipeline.process_session``, on transaction commit.
* Queues (``workers.celery_app``): ``preprocess`` (validate, preprocess, features, predict, aggregate,
  sweeper), ``inference`` (embed), ``training`` (later); a busy queue never starves another.
* ``acks_late`` + ``reject_on_worker_lost``: a worker killed mid-step leaves its message unacknowledged,
  it is delivered again and the step reruns; steps are idempotent (see ``workers.steps``).
* Transient faults (inference unavailable, storage, database connection, soft time limit) are
  retried with exponential backoff and jitter (``GAIT_PIPELINE_*``, see ``workers.config``); the
  session shows "waiting to retry ..." meanwhile, and fails with that reason when the budget is spent.
  Bad data fails the session at once with a reason for clinicians. Anything else (a bug) fails it
  with an "internal error" reason and is logged with its traceback.
* ``workers.pipeline.sweep`` (celery beat, every ``GAIT_PIPELINE_SWEEP_EVERY_S``) re-queues sessions
  stuck in uploaded/validating/processing, and fails those that used up their attempts.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, InterfaceError, OperationalError

from workers import config, steps

log = logging.getLogger("workers")

PREFIX = "workers.pipeline."
ENTRY = PREFIX + "process_session"
NEXT = {"validate": "preprocess", "preprocess": "features", "features": "embed", "embed": "predict",
        "predict": "aggregate", "aggregate": None}
TASK_NAME = {"validate": ENTRY, **{s: PREFIX + s for s in steps.STEPS if s != "validate"}}
WHAT = {"validate": "checking the recording", "preprocess": "cleaning the recording",
        "features": "computing gait features", "embed": "computing the gait embedding (inference server)",
        "predict": "predicting health measures", "aggregate": "updating the cohort summary"}


def transient_errors() -> tuple[type[BaseException], ...]:
    from serving.client import InferenceUnavailable

    errs: list[type[BaseException]] = [steps.TransientFault, InferenceUnavailable, OperationalError, InterfaceError,
                                       SoftTimeLimitExceeded, OSError, ConnectionError]
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


def send_next(step: str, session_id: int, organisation_id: int, model_version: str | None) -> None:
    nxt = NEXT[step]
    if nxt is None:
        return
    from workers.celery_app import app

    args = [session_id, organisation_id] + ([model_version] if nxt in ("predict", "aggregate") else [])
    # Through the registered task (same routing and message as ``send_task``), so that Celery's eager mode
    # -- the demo seeding's inline processing (dashboards.demo.process_inline) -- runs the chain in-process.
    app.signature(TASK_NAME[nxt], args=args).apply_async()


def run_step(task, step: str, session_id: int, organisation_id: int, fn) -> dict:
    """Scope, step, failure policy, next task. ``fn()`` returns the step's result dict."""
    from django.db import close_old_connections
    from recordings.models import GaitSession
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    try:
        org = Organisation.objects.filter(pk=organisation_id).first()
    except (OperationalError, InterfaceError) as exc:
        close_old_connections()
        raise task.retry(exc=exc, countdown=backoff(task.request.retries), max_retries=None) from exc
    if org is None:
        return {"session": session_id, "status": "organisation deleted"}
    with organisation_scope(org):
        try:
            log.info("session %s: %s started", session_id, step)
            result = fn() or {}
        except steps.BadSessionData as exc:
            log.info("session %s: %s: bad data: %s", session_id, step, exc)
            steps.fail(session_id, str(exc))
            return {"session": session_id, "status": "failed", "reason": str(exc)}
        except transient_errors() as exc:
            n = task.request.retries
            if isinstance(exc, DatabaseError):
                close_old_connections()
            if n >= config.max_retries():
                reason = (f"{WHAT[step]} did not succeed after {n + 1} attempts ({_short(exc)}); "
                          "the session can be reprocessed once the service is back")
                log.warning("session %s: %s: giving up: %s", session_id, step, exc)
                steps.fail(session_id, reason)
                return {"session": session_id, "status": "failed", "reason": reason}
            countdown = backoff(n)
            log.warning("session %s: %s: transient fault, retry %d in %.1f s: %s", session_id, step, n + 1, countdown, exc)
            try:
                steps.touch(session_id, reason=f"waiting to retry {WHAT[step]} (attempt {n + 2} of "
                                               f"{config.max_retries() + 1}): {_short(exc)}")
            except DatabaseError:
                close_old_connections()
            raise task.retry(exc=exc, countdown=countdown, max_retries=None) from exc
        except Exception as exc:  # a bug: fail the session visibly, keep the traceback in the log
            log.exception("session %s: %s: internal error", session_id, step)
            steps.fail(session_id, f"an internal error stopped {WHAT[step]} ({type(exc).__name__}); "
                                   "the platform team has the details")
            return {"session": session_id, "status": "failed", "reason": "internal error"}
        if result.get("missing"):
            return {"session": session_id, "status": "missing"}
        GaitSession.objects.filter(pk=session_id, status_reason__startswith="waiting to retry").update(status_reason="")
        status = GaitSession.objects.filter(pk=session_id).values_list("status", flat=True).first()
        log.info("session %s: %s done: %s", session_id, step, result)
    send_next(step, session_id, organisation_id, result.get("model_version"))
    return {"session": session_id, "step": step, "status": status, **result}


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def _opts(step: str) -> dict:
    soft, hard = config.TIME_LIMITS[step]
    return {"bind": True, "name": TASK_NAME[step], "acks_late": True, "reject_on_worker_lost": True,
            "ignore_result": True, "soft_time_limit": soft, "time_limit": hard, "max_retries": None}


@shared_task(**_opts("validate"))
def process_session(self, session_id: int, organisation_id: int) -> dict:
    """Entry point (queued by the API on upload completion and by reprocess / requeue / the sweeper)."""
    return run_step(self, "validate", session_id, organisation_id, lambda: steps.validate(session_id))


@shared_task(**_opts("preprocess"))
def preprocess(self, session_id: int, organisation_id: int) -> dict:
    return run_step(self, "preprocess", session_id, organisation_id, lambda: steps.preprocess(session_id))


@shared_task(**_opts("features"))
def features(self, session_id: int, organisation_id: int) -> dict:
    return run_step(self, "features", session_id, organisation_id, lambda: steps.features(session_id))


@shared_task(**_opts("embed"))
def embed(self, session_id: int, organisation_id: int) -> dict:
    def work():
        from workers.inference import get_client

        return steps.embed(session_id, get_client())

    return run_step(self, "embed", session_id, organisation_id, work)


@shared_task(**_opts("predict"))
def predict(self, session_id: int, organisation_id: int, model_version: str) -> dict:
    def work():
        return steps.predict(session_id, model_version) | {"model_version": model_version}

    return run_step(self, "predict", session_id, organisation_id, work)


@shared_task(**_opts("aggregate"))
def aggregate(self, session_id: int, organisation_id: int, model_version: str) -> dict:
    return run_step(self, "aggregate", session_id, organisation_id,
                    lambda: steps.aggregate(session_id, model_version) | {"model_version": model_version})


@shared_task(name=PREFIX + "sweep", ignore_result=True, soft_time_limit=120, time_limit=180)
def sweep() -> dict:
    """Re-queue sessions stuck too long in a non-final state; fail those out of attempts (with why)."""
    from workers.sweeper import sweep_stuck_sessions

    return sweep_stuck_sessions()
