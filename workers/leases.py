"""One run of one pipeline step of one session at a time: a lease taken in the database.

A task may run its step only if the session is still active, still at that step, and nobody else holds a
live lease: one conditional ``UPDATE`` on (id, status, step, lease) takes it (``acquire``). While the step
runs, a thread renews the lease every third of ``GAIT_PIPELINE_LEASE_S``; a worker killed with ``-9``
stops renewing, so the sweeper sees the lease expire within ``GAIT_PIPELINE_LEASE_S`` and re-queues the
step. The step's own write transaction locks the row and checks the lease is still this task's
(``StepRun.lock``), then advances the session to the next step and puts its message in the outbox
(``StepRun.advance``) in the same transaction. So a redelivered or duplicate message for a step that
already finished, or for a session that failed, changes nothing (no second run, no second event).

Backfill runs (``workers.backfill``: the tail of the pipeline again on ``done`` sessions, for a new model
version) take the same lease on a ``done`` session and leave its status alone.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, timedelta

from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from recordings.dispatch import ACTIVE, NEXT_STEP, WHAT, queue_fields

from . import config

log = logging.getLogger("workers")


class Superseded(Exception):
    """The session moved on (another run finished this step, it failed, it was deleted or reprocessed)."""


def hhmm(t) -> str:
    return t.astimezone(UTC).strftime("%H:%M:%S UTC")


class StepRun:
    def __init__(self, session_id: int, step: str, token: str | None, backfill: bool = False):
        self.session_id, self.step, self.backfill = session_id, step, backfill
        self.token = token or f"direct-{uuid.uuid4()}"
        self.next: tuple[str, str] | None = None  # (step, task id) to deliver after the commit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- taking and keeping the lease
    def acquire(self) -> str | None:
        """Take the lease; None when taken, else why this message is a no-op."""
        from recordings.models import GaitSession, SessionStatus

        now = timezone.now()
        until = now + timedelta(seconds=config.lease_s())
        free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=self.token)
        qs = GaitSession.unscoped.filter(pk=self.session_id)
        if self.backfill:
            n = qs.filter(free, status=SessionStatus.DONE).update(lease_owner=self.token, lease_until=until)
        else:
            status = SessionStatus.VALIDATING if self.step == "validate" else SessionStatus.PROCESSING
            n = qs.filter(free, status__in=ACTIVE, step=self.step).update(
                lease_owner=self.token, lease_until=until, status=status, updated_at=now,
                status_reason=f"running: {WHAT[self.step]} (since {hhmm(now)})", attempts=Greatest(F("attempts"), 1))
        if n:
            return None
        row = qs.values("status", "step", "lease_owner", "lease_until").first()
        if row is None:
            return "session deleted"
        if row["status"] not in ACTIVE and not self.backfill:
            return f"session is {row['status']}"
        if row["step"] != self.step and not self.backfill:
            return f"session is at step {row['step'] or '-'}"
        return f"another task holds the session until {row['lease_until']}"

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.session_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        from django.db import connection
        from recordings.models import GaitSession

        every = max(config.lease_s() / 3, 0.5)
        try:
            while not self._stop.wait(every):
                try:
                    n = GaitSession.unscoped.filter(pk=self.session_id, lease_owner=self.token).update(
                        lease_until=timezone.now() + timedelta(seconds=config.lease_s()))
                    if not n:  # released by the step's own commit, or taken over (its commit will be refused)
                        return
                except Exception as exc:  # noqa: BLE001 - database away: the next beat tries again
                    log.warning("session %s: lease renewal failed: %s", self.session_id, exc)
                    connection.close()
        finally:
            connection.close()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def hold_for(self, seconds: float, reason: str) -> None:
        """Keep the lease across a retry's wait (so a worker that dies meanwhile is noticed) and say why."""
        from recordings.models import GaitSession

        now = timezone.now()
        fields = {"lease_until": now + timedelta(seconds=seconds + config.lease_s())}
        if not self.backfill:
            fields |= {"status_reason": reason, "updated_at": now}
        GaitSession.unscoped.filter(pk=self.session_id, lease_owner=self.token).update(**fields)

    def release(self) -> None:
        from recordings.models import GaitSession

        GaitSession.unscoped.filter(pk=self.session_id, lease_owner=self.token).update(lease_owner="", lease_until=None)

    # -- inside the step's write transaction
    def lock(self):
        """The session row, locked; raises Superseded unless this task still holds the step."""
        from recordings.models import GaitSession

        s = GaitSession.unscoped.select_for_update().filter(pk=self.session_id).first()
        if s is None:
            raise Superseded("session deleted")
        if s.lease_owner != self.token or (not self.backfill and (s.status not in ACTIVE or s.step != self.step)):
            raise Superseded(f"session is {s.status} at step {s.step or '-'} (lease {s.lease_owner or 'free'})")
        return s

    def advance(self, s, model_version: str = "") -> None:
        """Move the locked session ``s`` past this step; its next message goes to the outbox."""
        nxt = NEXT_STEP[self.step]
        if self.backfill:
            s.lease_owner, s.lease_until = "", None
            s.save(update_fields=["lease_owner", "lease_until"])
            if nxt:
                self.next = (nxt, str(uuid.uuid4()))
            return
        fields = {"status": "processing"} if self.step == "validate" else {}
        if model_version:
            fields["model_version"] = model_version
        if nxt is None:
            fields |= {"step": "", "task_id": "", "lease_owner": "", "lease_until": None, "sent_at": timezone.now()}
        else:
            fields |= queue_fields(nxt)
            self.next = (nxt, fields["task_id"])
        for k, v in fields.items():
            setattr(s, k, v)
        s.save(update_fields=[*fields, "updated_at"])
