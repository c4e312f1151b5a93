"""``manage.py requeue_sessions``: send the pipeline message again for active sessions that nobody runs
(no live lease) and that have not changed for ``--minutes``. The workers' sweeper does this by itself
(recordings.dispatch, workers/sweeper.py); this is the operator's manual lever, e.g. after restoring a
broker without its queues. The step is sent again with a new task id (a duplicate is a no-op)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from recordings import dispatch
from recordings.models import GaitSession


class Command(BaseCommand):
    help = "Send the pipeline step again for active sessions unchanged for more than --minutes minutes."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=10)

    def handle(self, *args, minutes, **opts):
        now = timezone.now()
        stale = (GaitSession.unscoped.filter(status__in=dispatch.ACTIVE, updated_at__lt=now - timedelta(minutes=minutes))
                 .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now)))
        total = 0
        for s in stale:
            fields = dispatch.queue_fields(s.step or "validate")
            GaitSession.unscoped.filter(pk=s.pk).update(**fields, updated_at=now)
            dispatch.deliver(s.pk, s.organisation_id, fields["step"], fields["task_id"], s.model_version)
            total += 1
        self.stdout.write(f"queued {total} session(s)")
