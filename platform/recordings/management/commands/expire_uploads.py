"""``manage.py expire_uploads``: abort uploads left receiving for more than --days days and delete their
staged bytes (chunks, S3 multipart parts). Run it daily from cron."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from tenancy.audit import Actor
from tenancy.models import Organisation
from tenancy.scope import organisation_scope

from recordings.actions import abort_upload
from recordings.models import Upload, UploadStatus


class Command(BaseCommand):
    help = "Abort uploads idle for more than --days days and delete what they staged."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=7)

    def handle(self, *args, days, **opts):
        cutoff = timezone.now() - timedelta(days=days)
        total = 0
        for org in Organisation.objects.all():
            with organisation_scope(org):
                for upload in Upload.objects.filter(status=UploadStatus.RECEIVING, updated_at__lt=cutoff):
                    abort_upload(Actor.system(), upload, reason=f"expired after {days:g} idle days")
                    total += 1
        self.stdout.write(f"expired {total} upload(s)")
