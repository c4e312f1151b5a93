"""The session pipeline's entry task. For now: enter the session's organisation scope explicitly,
count the attempt, re-validate the stored file with gaitcore and hand over to the processing stage
(cleaning, features, embedding and predictions come with the pipeline issue)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

log = logging.getLogger("workers")

AWAITING_PIPELINE = "validated; waiting for the processing pipeline"


@shared_task(name="workers.pipeline.process_session", acks_late=True)
def process_session(session_id: int, organisation_id: int) -> dict:
    from recordings import storage
    from recordings.models import GaitSession, SessionStatus
    from tenancy.audit import Actor, record
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    from gaitcore.errors import GaitCoreError
    from gaitcore.sessionfile import from_bytes

    org = Organisation.objects.get(pk=organisation_id)
    with organisation_scope(org):  # Celery tasks enter the scope explicitly
        with transaction.atomic():
            session = GaitSession.objects.select_for_update().filter(pk=session_id).first()
            if session is None:
                return {"session": session_id, "status": "missing"}
            session.status, session.status_reason = SessionStatus.VALIDATING, ""
            session.attempts += 1
            session.save(update_fields=["status", "status_reason", "attempts", "updated_at"])
        try:
            parsed = from_bytes(storage.read(session.file_key), name=session.file_key)
            status, reason = SessionStatus.PROCESSING, AWAITING_PIPELINE
            log.info("session %s: %d frames, tasks %s", session_id, parsed.n_frames, [t.task for t in parsed.tasks])
        except (GaitCoreError, OSError) as exc:
            status, reason = SessionStatus.FAILED, f"stored file unreadable: {exc}"
        with transaction.atomic():
            GaitSession.objects.filter(pk=session_id).update(
                status=status, status_reason=reason, updated_at=timezone.now(),
                processed_at=timezone.now() if status == SessionStatus.FAILED else None)
            record(Actor.system(), f"session.{status}", session, reason=reason)
    return {"session": session_id, "status": status}
