"""Handing sessions to the pipeline workers: by Celery task name, through an outbox on the session row.

The API process never imports the workers: it sends ``workers.pipeline.<step>`` by name with a thin
Celery app configured from Django settings (``CELERY_*``; short broker timeouts so a broker outage never
blocks a request). Every message is first written on the session (``step``, ``task_id``, ``sent_at``
empty), then sent, then marked sent. A send that fails (broker down) leaves ``sent_at`` empty and the
reason "waiting for the task queue"; the workers' sweeper sends it again when the broker is back (the
same task id: a duplicate is harmless, see ``workers.tasks.pipeline``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

log = logging.getLogger("recordings")

STEPS = ("validate", "preprocess", "features", "embed", "predict", "aggregate")
PREFIX = "workers.pipeline."
TASK_NAME = {"validate": PREFIX + "process_session", **{s: PREFIX + s for s in STEPS if s != "validate"}}
NEXT_STEP = dict(zip(STEPS, (*STEPS[1:], None), strict=True))
QUEUE = {s: ("inference" if s == "embed" else "preprocess") for s in STEPS}
WHAT = {"validate": "checking the recording", "preprocess": "cleaning the recording",
        "features": "computing gait features", "embed": "computing the gait embedding (inference server)",
        "predict": "predicting health measures", "aggregate": "updating the cohort summary"}
ACTIVE = ("uploaded", "validating", "processing")
BROKER_DOWN = "waiting for the task queue (broker unreachable); it is sent automatically when the broker is back"

# Task routing shared by the API's thin app and the workers' app (workers.celery_app).
TASK_ROUTES = {
    PREFIX + "embed": {"queue": "inference"},
    PREFIX + "*": {"queue": "preprocess"},
    "workers.training.*": {"queue": "training"},
}


def queued_reason(step: str) -> str:
    return f"queued for {WHAT[step]} (waiting for a worker of the {QUEUE[step]} queue)"


@cache
def api_app():
    """A Celery app that only sends (the API process): settings' broker, short timeouts, no retries."""
    from celery import Celery

    app = Celery("gait-api", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.task_routes = TASK_ROUTES
    app.conf.result_backend = None  # the API never waits for a result (a Redis backend would retry ~20 s)
    app.conf.task_ignore_result = True
    app.conf.broker_connection_timeout = float(getattr(settings, "GAIT_BROKER_SEND_TIMEOUT_S", 2))
    app.conf.broker_connection_retry = False
    if str(settings.CELERY_BROKER_URL).startswith("redis"):
        t = float(getattr(settings, "GAIT_BROKER_SEND_TIMEOUT_S", 2))
        app.conf.broker_transport_options = {"socket_connect_timeout": t, "socket_timeout": t + 3, "max_retries": 0}
    return app


def message_args(session_id: int, organisation_id: int, step: str, model_version: str = "") -> list:
    return [session_id, organisation_id] + ([model_version] if step in ("predict", "aggregate") else [])


def send(name: str, args: list, task_id: str, app=None) -> bool:
    """Send one task; False (logged) when the broker cannot take it now."""
    app = app or api_app()
    try:
        if app is api_app():
            app.send_task(name, args=args, task_id=task_id, retry=False, ignore_result=True)
        else:  # the workers' app: through the registered task, so Celery's eager mode runs it in-process
            app.signature(name, args=args).apply_async(task_id=task_id, retry=False)
        return True
    except Exception as exc:  # noqa: BLE001 - any broker/transport error: the outbox keeps the message
        log.warning("could not send %s %s (%s: %s); the sweeper sends it when the broker is back",
                    name, args, type(exc).__name__, exc)
        return False


def mark_sent(session_id: int, task_id: str) -> None:
    from .models import GaitSession

    GaitSession.unscoped.filter(pk=session_id, task_id=task_id, sent_at__isnull=True).update(sent_at=timezone.now())


def mark_unsent(session_id: int, task_id: str) -> None:
    from .models import GaitSession

    GaitSession.unscoped.filter(pk=session_id, task_id=task_id, sent_at__isnull=True, status__in=ACTIVE).update(
        status_reason=BROKER_DOWN)


def deliver(session_id: int, organisation_id: int, step: str, task_id: str, model_version: str = "",
            app=None) -> bool:
    """Send the message the session row holds (after its transaction committed) and record the outcome.
    Errors of the database here are left to the sweeper (the row still says 'not sent')."""
    ok = send(TASK_NAME[step], message_args(session_id, organisation_id, step, model_version), task_id, app)
    try:
        (mark_sent if ok else mark_unsent)(session_id, task_id)
    except Exception as exc:  # noqa: BLE001 - the message went (or not); the sweeper reconciles
        log.warning("session %s: could not record the send of %s: %s", session_id, step, exc)
    return ok


def new_task_id() -> str:
    return str(uuid.uuid4())


def queue_fields(step: str = "validate") -> dict:
    """The fields that put a session's next message in the outbox (write them, commit, then deliver)."""
    return {"step": step, "task_id": new_task_id(), "sent_at": None, "lease_owner": "", "lease_until": None,
            "status_reason": queued_reason(step)}


def unsent(older_than_s: float = 0):
    """Active sessions whose message was never handed to the broker (unscoped: the sweeper's query)."""
    from .models import GaitSession

    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return GaitSession.unscoped.filter(status__in=ACTIVE, sent_at__isnull=True, updated_at__lt=cutoff).filter(
        Q(lease_until__isnull=True)).exclude(task_id="")


def deliver_row(s, app=None) -> bool:
    """Deliver the outbox message of a session row (``unsent()`` / the sweeper)."""
    return deliver(s.pk, s.organisation_id, s.step, s.task_id, s.model_version, app)
