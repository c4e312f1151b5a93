"""Recording sessions (one subject, one protocol run) and their resumable uploads.

(The app is called ``recordings`` because ``sessions`` is django.contrib.sessions' label.)

Session states: ``uploaded`` (stored, processing queued) -> ``validating`` -> ``processing`` -> ``done``,
or ``failed`` with a reason. A non-final session always says in ``status_reason`` what it waits for.
``step`` is the pipeline step to run next; ``lease_owner``/``lease_until`` say which task runs it and until
when it is trusted (renewed while it runs); ``task_id``/``sent_at`` are the message that carries it (an
outbox: ``sent_at`` empty means not handed to the broker yet). ``attempts`` counts runs of the current
processing (1 + recoveries by the sweeper); see ``recordings.dispatch`` and docs/pipeline.md.
"""

from __future__ import annotations

import uuid

from cohorts.models import Subject
from django.conf import settings
from django.db import models
from tenancy.scope import TenantModel


class SessionStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    VALIDATING = "validating", "Validating"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class GaitSession(TenantModel):
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="sessions")
    recorded_at = models.DateTimeField(null=True, blank=True)
    sensor = models.CharField(max_length=32)
    tasks = models.JSONField(default=list)
    n_frames = models.PositiveIntegerField(default=0)
    duration_s = models.FloatField(default=0)
    file_key = models.CharField(max_length=300)
    file_size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default=SessionStatus.UPLOADED)
    status_reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=16, default="validate", blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    model_version = models.CharField(max_length=120, blank=True)  # embedding model of the current run
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organisation", "-created_at", "-id"]),
                   models.Index(fields=["organisation", "status"])]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.subject_id}"


class UploadStatus(models.TextChoices):
    RECEIVING = "receiving", "Receiving"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"


class UploadMode(models.TextChoices):
    CHUNKED = "chunked", "Chunks through the API (any storage)"
    S3_MULTIPART = "s3-multipart", "Presigned multipart straight to S3"


class Upload(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    idempotency_key = models.CharField(max_length=200)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="uploads")
    filename = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=32)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    tasks = models.JSONField(default=list, blank=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    mode = models.CharField(max_length=16, choices=UploadMode.choices, default=UploadMode.CHUNKED)
    status = models.CharField(max_length=16, choices=UploadStatus.choices, default=UploadStatus.RECEIVING)
    offset = models.BigIntegerField(default=0)  # bytes received (chunked mode)
    chunks = models.JSONField(default=list, blank=True)  # [[offset, length], ...] staged so far
    s3_upload_id = models.CharField(max_length=300, blank=True)
    part_size = models.BigIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    session = models.OneToOneField(GaitSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="upload")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["organisation", "idempotency_key"], name="upload_idempotency_key")]

    def __str__(self) -> str:
        return f"upload {self.pk}"
