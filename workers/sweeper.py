"""The periodic sweeper: sessions stuck in ``uploaded``/``validating``/``processing``.

A session whose row has not changed for ``GAIT_PIPELINE_STUCK_AFTER_S`` (every step and every retry
touches it) lost its task somewhere (a message never sent, a worker that died between a commit and
sending the next step). It is queued again from the start (steps are idempotent and the embedding
step skips work already stored) unless it already ran ``GAIT_PIPELINE_MAX_ATTEMPTS`` times: then it
fails with a reason saying so.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from . import config, steps

log = logging.getLogger("workers")


def sweep_stuck_sessions(now=None) -> dict:
    from recordings.models import GaitSession, SessionStatus
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    from workers.celery_app import app
    from workers.tasks.pipeline import ENTRY

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=config.stuck_after_s())
    requeued, failed = [], []
    for org in Organisation.objects.all():
        with organisation_scope(org):
            stuck = GaitSession.objects.filter(
                status__in=[SessionStatus.UPLOADED, SessionStatus.VALIDATING, SessionStatus.PROCESSING],
                updated_at__lt=cutoff).values_list("id", "status", "attempts")
            for sid, status, attempts in stuck:
                if attempts >= config.max_attempts():
                    steps.fail(sid, f"processing did not finish after {attempts} attempts (it stopped while "
                                    f"{status}); the session can be reprocessed")
                    failed.append(sid)
                    continue
                steps.touch(sid, reason=f"re-queued: no progress for {config.stuck_after_s() // 60} minutes while {status}")
                app.send_task(ENTRY, args=[sid, org.pk])
                requeued.append(sid)
    if requeued or failed:
        log.warning("sweeper: re-queued %s, failed %s", requeued, failed)
    return {"requeued": requeued, "failed": failed}
