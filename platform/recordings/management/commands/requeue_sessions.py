"""``manage.py requeue_sessions``: queue processing again for sessions stuck in ``uploaded`` (their
task was never sent, e.g. the broker was down when the upload completed). Run it from cron."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from tenancy.models import Organisation
from tenancy.scope import organisation_scope

from recordings.actions import queue_processing
from recordings.models import GaitSession, SessionStatus


class Command(BaseCommand):
    help = "Queue processing for sessions left in 'uploaded' for more than --minutes minutes."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=10)

    def handle(self, *args, minutes, **opts):
        cutoff = timezone.now() - timedelta(minutes=minutes)
        total = 0
        for org in Organisation.objects.all():
            with organisation_scope(org):  # commands enter each organisation's scope explicitly
                for session in GaitSession.objects.filter(status=SessionStatus.UPLOADED, updated_at__lt=cutoff):
                    queue_processing(session)
                    total += 1
        self.stdout.write(f"queued {total} session(s)")
