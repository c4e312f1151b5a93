"""Writes of sessions and uploads: atomic, audited. The upload protocol lives here.

Protocol (chunked mode, any storage)::

    POST   /api/v1/uploads/                 {subject, format, size, sha256, tasks, filename}
                                            + header Idempotency-Key  -> 201 (or 200: same key, same upload)
    PUT    /api/v1/uploads/{id}/chunk/      body = bytes, header Upload-Offset: <n>
                                            (optional Upload-Checksum: sha256 <base64>)  -> {offset}
    GET    /api/v1/uploads/{id}/            -> {offset, status, ...}: resume from ``offset``
    POST   /api/v1/uploads/{id}/complete/   -> 201 {session}: verified, validated, stored, queued

S3 multipart mode (``mode: "s3-multipart"``, only with S3 storage): the create response carries
``part_size`` and ``part_count``; ``POST .../presign/ {parts: [1, 2]}`` returns presigned PUT URLs
(send a Content-Type, e.g. application/octet-stream); ``GET .../`` lists the parts S3 has; ``complete``
as above. Failures (size, checksum, validation) mark the upload failed with a code and message and delete
every staged byte: nothing is half-stored.

Accepted formats: ``gait-session`` (the canonical ``.gait.npz`` session file). Other recording formats
(Azure Kinect JSON/MKV, Kinect v1/v2, CSV) are converted on the clinic side by ``gait-upload`` /
``gaitfm import`` with the same gaitcore importers; the server stores only canonical, validated
session files, so every stored file reads the same way in every worker.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from gaitsite.api import APIError
from rest_framework.exceptions import ValidationError
from tenancy.actions import delete_object
from tenancy.audit import Actor, record

from . import dispatch, storage
from .models import GaitSession, SessionStatus, Upload, UploadMode, UploadStatus

log = logging.getLogger("recordings")

FORMATS = {"gait-session": ".gait.npz"}
MAX_CHUNK_BYTES = 16 * 1024 * 1024


def max_upload_bytes() -> int:
    return int(settings.UPLOAD_MAX_BYTES)


# --- create --------------------------------------------------------------------------------------------
def create_upload(actor: Actor, *, idempotency_key: str, subject, format: str, size: int, sha256: str,
                  tasks: list[str], filename: str = "", recorded_at=None, mode: str = UploadMode.CHUNKED,
                  allow_duplicate: bool = False) -> tuple[Upload, bool]:
    """Returns (upload, created). The same idempotency key with the same parameters returns the first
    upload; with different parameters it is a 409. The same content (SHA-256) already stored as a session
    of this organisation returns that session's upload with ``duplicate = True`` (nothing to send),
    unless ``allow_duplicate``."""
    filename = display_filename(filename)
    if format not in FORMATS:
        raise APIError(400, "unknown_format",
                       f"unknown upload format {format!r}; accepted: {', '.join(FORMATS)} (convert other "
                       "recordings with `gait-upload` or `gaitfm import` first)", {"accepted": list(FORMATS)})
    if size > max_upload_bytes():
        raise APIError(413, "too_large", f"the file is {size} bytes; the limit is {max_upload_bytes()} bytes",
                       {"limit": max_upload_bytes()})
    existing = Upload.objects.filter(idempotency_key=idempotency_key).first()
    params = {"subject_id": subject.pk, "format": format, "size": size, "sha256": sha256.lower()}
    if existing is not None:
        return _same_or_conflict(existing, params), False
    if not allow_duplicate:
        first = (Upload.objects.filter(sha256=sha256.lower(), size=size, status=UploadStatus.COMPLETE,
                                       session__isnull=False).order_by("completed_at").first())
        if first is not None:
            first.duplicate = True
            record(actor, "upload.duplicate", first, session=first.session_id, idempotency_key=idempotency_key[:200])
            return first, False
    if mode == UploadMode.S3_MULTIPART and not storage.is_s3():
        raise APIError(400, "mode_unavailable", "s3-multipart uploads need S3 storage; use mode 'chunked'")
    try:
        with transaction.atomic():
            upload = Upload.objects.create(
                idempotency_key=idempotency_key, subject=subject, format=format, size=size, sha256=sha256.lower(),
                tasks=tasks, filename=filename, recorded_at=recorded_at, mode=mode, created_by=actor.user,
            )
            if mode == UploadMode.S3_MULTIPART:
                st = storage.storage()
                upload.part_size = max(storage.min_part_size(), math.ceil(size / 10_000))
                with storage.available("starting the S3 upload"):
                    upload.s3_upload_id = storage.s3_client(st).create_multipart_upload(
                        Bucket=st.bucket_name, Key=storage.s3_key(st, storage.multipart_name(upload)),
                        ContentType="application/octet-stream",
                    )["UploadId"]
                upload.save(update_fields=["part_size", "s3_upload_id"])
            record(actor, "upload.create", upload, size=size, format=format, mode=mode, subject=subject.external_id)
    except IntegrityError:  # a concurrent create with the same key won
        existing = Upload.objects.get(idempotency_key=idempotency_key)
        return _same_or_conflict(existing, params), False
    return upload, True


def display_filename(name: str) -> str:
    """A safe display name: the last path part only, no control characters (CR, LF, NUL ...), at most
    255 characters. The name is only ever shown; storage keys never use it."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    name = " ".join(name.split())
    return "" if name in (".", "..") else name[:255]


def _same_or_conflict(upload: Upload, params: dict) -> Upload:
    mine = {"subject_id": upload.subject_id, "format": upload.format, "size": upload.size, "sha256": upload.sha256}
    if mine != params:
        raise APIError(409, "idempotency_conflict",
                       "this Idempotency-Key was already used for a different upload", {"upload": str(upload.pk)})
    return upload


# --- chunks ----------------------------------------------------------------------------------------------
def parse_chunk_checksum(header: str | None) -> bytes | None:
    if not header:
        return None
    algo, _, value = header.partition(" ")
    if algo.lower() != "sha256":
        raise APIError(400, "bad_checksum_header", "Upload-Checksum must be 'sha256 <base64 digest>'")
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise APIError(400, "bad_checksum_header", "Upload-Checksum digest is not base64") from None


def append_chunk(actor: Actor, upload: Upload, *, offset: int, data: bytes, checksum: bytes | None) -> Upload:
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        _require_receiving(upload)
        if upload.mode != UploadMode.CHUNKED:
            raise APIError(400, "wrong_mode", "this upload sends parts to S3 with presigned URLs, not chunks")
        if offset != upload.offset:
            raise APIError(409, "offset_mismatch",
                           f"Upload-Offset is {offset} but the server has {upload.offset} bytes; resume from there",
                           {"offset": upload.offset})
        if not data:
            raise APIError(400, "empty_chunk", "the chunk is empty")
        if upload.offset + len(data) > upload.size:
            raise APIError(413, "too_large", f"this chunk would take the upload past its declared size "
                           f"({upload.size} bytes)", {"offset": upload.offset, "size": upload.size})
        if checksum is not None and hashlib.sha256(data).digest() != checksum:
            raise APIError(400, "chunk_checksum_mismatch", "the chunk's SHA-256 does not match Upload-Checksum; "
                           "nothing was stored, send it again", {"offset": upload.offset})
        name = storage.chunk_name(upload, offset)
        storage.delete_quietly(name)  # a leftover of an attempt whose commit failed
        with storage.available("storing the chunk"):
            storage.save_exact(name, data)
        upload.chunks = [*upload.chunks, [offset, len(data)]]
        upload.offset += len(data)
        upload.save(update_fields=["chunks", "offset", "updated_at"])
    return upload


def presign_parts(actor: Actor, upload: Upload, parts: list[int], expires: int = 3600) -> list[dict]:
    _require_receiving(upload)
    if upload.mode != UploadMode.S3_MULTIPART:
        raise APIError(400, "wrong_mode", "presigned parts exist only for s3-multipart uploads")
    count = part_count(upload)
    bad = [p for p in parts if not 1 <= p <= count]
    if bad:
        raise APIError(400, "bad_part", f"parts are numbered 1..{count}", {"parts": bad})
    st = storage.storage()
    client = storage.s3_client(st)
    key = storage.s3_key(st, storage.multipart_name(upload))
    return [{"part": p, "url": client.generate_presigned_url(
        "upload_part", Params={"Bucket": st.bucket_name, "Key": key, "UploadId": upload.s3_upload_id, "PartNumber": p},
        ExpiresIn=expires, HttpMethod="PUT"), "size": part_length(upload, p)} for p in parts]


def part_count(upload: Upload) -> int:
    return max(1, math.ceil(upload.size / upload.part_size)) if upload.part_size else 0


def part_length(upload: Upload, part: int) -> int:
    return min(upload.part_size, upload.size - (part - 1) * upload.part_size)


def s3_parts(upload: Upload) -> list[dict]:
    """The parts S3 holds for a multipart upload: [{part, size, etag}]."""
    st = storage.storage()
    client = storage.s3_client(st)
    key = storage.s3_key(st, storage.multipart_name(upload))
    out, marker = [], 0
    while True:
        with storage.available("listing the S3 parts"):
            page = client.list_parts(Bucket=st.bucket_name, Key=key, UploadId=upload.s3_upload_id,
                                     PartNumberMarker=marker)
        out += [{"part": p["PartNumber"], "size": p["Size"], "etag": p["ETag"]} for p in page.get("Parts", [])]
        if not page.get("IsTruncated"):
            return out
        marker = page["NextPartNumberMarker"]


def received_offset(upload: Upload, parts: list[dict] | None = None) -> int:
    """Bytes received without a gap from the start (the resume point)."""
    if upload.mode == UploadMode.CHUNKED or upload.status != UploadStatus.RECEIVING:
        return upload.offset
    have = {p["part"]: p["size"] for p in (parts if parts is not None else s3_parts(upload))}
    offset = 0
    for n in range(1, part_count(upload) + 1):
        if have.get(n) != part_length(upload, n):
            break
        offset += have[n]
    return offset


# --- complete ---------------------------------------------------------------------------------------------
def complete_upload(actor: Actor, upload: Upload) -> GaitSession:
    """Verify size and SHA-256, validate with gaitcore, store, create the session, queue processing.

    A verification failure marks the upload failed (code and message kept on it), deletes every staged
    byte and answers 4xx; nothing is stored."""
    try:
        return _complete(actor, upload)
    except _UploadFailed as exc:
        _mark_failed(actor, upload.pk, exc.code, exc.message)
        raise APIError(exc.status_code, exc.code, exc.message, {"upload": str(upload.pk)}) from None


def _complete(actor: Actor, upload: Upload) -> GaitSession:
    from gaitcore.errors import GaitCoreError
    from gaitcore.sessionfile import from_bytes

    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if upload.status == UploadStatus.COMPLETE and upload.session_id:
            return upload.session  # completing twice is harmless
        _require_receiving(upload)
        if upload.mode == UploadMode.CHUNKED and upload.offset != upload.size:
            raise APIError(409, "incomplete", f"the server has {upload.offset} of {upload.size} bytes; send the rest",
                           {"offset": upload.offset, "size": upload.size})
        with storage.available("reading the received chunks"):
            data = _collect(upload)
        if len(data) != upload.size:
            raise _UploadFailed(422, "size_mismatch", f"received {len(data)} bytes, the upload declared {upload.size}")
        digest = hashlib.sha256(data).hexdigest()
        if digest != upload.sha256:
            raise _UploadFailed(422, "checksum_mismatch",
                                f"the file's SHA-256 is {digest}, the upload declared {upload.sha256}")
        try:
            session_file = from_bytes(data, name=upload.filename or "upload")
        except GaitCoreError as exc:
            code = getattr(exc, "code", "invalid_session_file")
            raise _UploadFailed(413 if code == "too_large" else 422, code,
                                f"the file is not a valid session file: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any reader crash is a bad file, never a 500
            raise _UploadFailed(422, "invalid_session_file",
                                f"the file could not be read: {type(exc).__name__}: {exc}") from None
        present = [seg.task for seg in session_file.tasks]
        missing = [t for t in upload.tasks if t not in present]
        if missing:
            raise _UploadFailed(422, "task_mismatch",
                                f"the upload lists tasks {missing} that the file does not contain (it has {present})")
        name = storage.final_name(upload)
        storage.delete_quietly(name)  # a leftover of an attempt that crashed before its commit
        with storage.available("storing the session file"):
            storage.save_exact(name, data)
        try:
            session = GaitSession.objects.create(
                subject=upload.subject, recorded_at=upload.recorded_at, sensor=session_file.sensor,
                tasks=present, n_frames=session_file.n_frames, duration_s=session_file.duration_s,
                file_key=name, file_size=len(data), sha256=digest, **dispatch.queue_fields(),
            )
            upload.session = session
            upload.status = UploadStatus.COMPLETE
            upload.offset = len(data)
            upload.completed_at = timezone.now()
            upload.save(update_fields=["session", "status", "offset", "completed_at", "updated_at"])
            record(actor, "upload.complete", upload, session=session.pk, size=len(data))
            transaction.on_commit(lambda: queue_processing(session))
        except BaseException:
            storage.delete_quietly(name)
            raise
    _cleanup_staging(upload)
    return session


class _UploadFailed(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status_code, self.code, self.message = status, code, message


def _mark_failed(actor: Actor, pk, code: str, message: str) -> None:
    with transaction.atomic():
        u = Upload.objects.select_for_update().get(pk=pk)
        u.status, u.error_code, u.error_message = UploadStatus.FAILED, code, message
        u.save(update_fields=["status", "error_code", "error_message", "updated_at"])
        record(actor, "upload.fail", u, code=code, message=message[:500])
    _cleanup_staging(u)


def _collect(upload: Upload) -> bytes:
    if upload.mode == UploadMode.CHUNKED:
        return storage.assemble(upload)
    st = storage.storage()
    client = storage.s3_client(st)
    key = storage.s3_key(st, storage.multipart_name(upload))
    parts = s3_parts(upload)
    if received_offset(upload, parts) != upload.size or len(parts) != part_count(upload):
        raise APIError(409, "incomplete", f"S3 has {len(parts)} of {part_count(upload)} parts; send the rest",
                       {"parts": [p["part"] for p in parts], "part_count": part_count(upload)})
    client.complete_multipart_upload(
        Bucket=st.bucket_name, Key=key, UploadId=upload.s3_upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p["part"], "ETag": p["etag"]} for p in parts]})
    return client.get_object(Bucket=st.bucket_name, Key=key)["Body"].read()


def _require_receiving(upload: Upload) -> None:
    if upload.status == UploadStatus.FAILED:
        raise APIError(409, "upload_failed", f"this upload failed ({upload.error_code}: {upload.error_message}); "
                       "start a new upload", {"error_code": upload.error_code})
    if upload.status == UploadStatus.COMPLETE:
        raise APIError(409, "upload_complete", "this upload is already complete")


def _cleanup_staging(upload: Upload) -> None:
    storage.delete_quietly(*[storage.chunk_name(upload, off) for off, _ in upload.chunks])
    if upload.mode == UploadMode.S3_MULTIPART and upload.s3_upload_id:
        st = storage.storage()
        try:
            storage.s3_client(st).abort_multipart_upload(
                Bucket=st.bucket_name, Key=storage.s3_key(st, storage.multipart_name(upload)), UploadId=upload.s3_upload_id)
        except Exception:  # noqa: BLE001 - already completed or gone
            pass
        storage.delete_quietly(storage.multipart_name(upload))


def queue_processing(session: GaitSession) -> None:
    """Hand the session to the workers (by task name: the API process never imports the pipeline).

    The message is already in the session's outbox (``dispatch.queue_fields`` written with the row);
    this sends it after the commit. With the broker down the upload is still accepted: the session
    says so in its reason and the workers' sweeper sends the message when the broker is back. A session
    without an outbox message (set back to ``uploaded`` by hand) gets one for validation first."""
    if not (session.step and session.task_id):
        fields = dispatch.queue_fields(session.step or "validate")
        GaitSession.unscoped.filter(pk=session.pk).update(**fields, updated_at=timezone.now())
        for k, v in fields.items():
            setattr(session, k, v)
    dispatch.deliver(session.pk, session.organisation_id, session.step, session.task_id)


@transaction.atomic
def abort_upload(actor: Actor, upload: Upload, reason: str = "aborted by the client") -> Upload:
    upload = Upload.objects.select_for_update().get(pk=upload.pk)
    if upload.status != UploadStatus.RECEIVING:
        raise APIError(409, "not_receiving", f"the upload is {upload.status}")
    upload.status, upload.error_code, upload.error_message = UploadStatus.FAILED, "aborted", reason
    upload.save(update_fields=["status", "error_code", "error_message", "updated_at"])
    record(actor, "upload.abort", upload)
    transaction.on_commit(lambda: _cleanup_staging(upload))
    return upload


# --- sessions -------------------------------------------------------------------------------------------
def update_session(actor: Actor, session: GaitSession, **fields) -> GaitSession:
    from tenancy.actions import update_object

    return update_object(actor, session, "session.update", **fields)


def delete_session(actor: Actor, session: GaitSession) -> None:
    key = session.file_key
    delete_object(actor, session, "session.delete")
    storage.delete_quietly(key)


@transaction.atomic
def reprocess_session(actor: Actor, session: GaitSession) -> GaitSession:
    """Run the pipeline again from the start with a fresh attempt budget. Refused (409) while the
    session is queued or running: one run of a session at a time."""
    session = GaitSession.objects.select_for_update().get(pk=session.pk)
    if session.status in dispatch.ACTIVE:
        raise APIError(409, "busy", f"the session is already {session.status} ({session.status_reason or 'queued'}); "
                       "reprocess it once it is done or failed", {"status": session.status})
    fields = {"status": SessionStatus.UPLOADED, "attempts": 0, "model_version": "", **dispatch.queue_fields()}
    for k, v in fields.items():
        setattr(session, k, v)
    session.save(update_fields=[*fields, "updated_at"])
    record(actor, "session.reprocess", session)
    transaction.on_commit(lambda: queue_processing(session))
    return session


def validate_tasks(tasks: list[str]) -> list[str]:
    from gaitcore.schemas import TASKS

    bad = [t for t in tasks if t not in TASKS]
    if bad:
        raise ValidationError({"tasks": f"unknown tasks {bad}; known: {', '.join(TASKS)}"})
    return tasks
