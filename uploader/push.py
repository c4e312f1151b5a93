"""``push``: send every pending queue item with the resumable protocol, then apply the retention.

One item at a time:

1. no upload yet: look the subject's pseudonym up (``subject unknown`` is a rejection), create the
   upload with the item's Idempotency-Key (a retried or repeated create returns the same upload) and
   store its id (state ``uploading``) -- from now on a kill or reboot resumes this upload;
2. ask the server for its offset and send the rest in checksummed chunks, recording progress;
3. complete: the server verifies size and SHA-256 and validates the file; the item becomes ``uploaded``
   only when the session it returns carries our SHA-256; then the local file is deleted if the
   retention (``keep_days``) allows.

A 4xx about the item (invalid file, unknown subject, failed upload) marks it ``rejected`` with the
server's reason and ``push`` goes on with the next item; 401/403 and persistent network errors stop
the run (nothing else could succeed) and leave the item resumable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .client import DEFAULT_CHUNK, Api, file_sha256
from .errors import Rejected, UploaderError
from .queue import QUEUED, REJECTED, UPLOADED, UPLOADING, Item, Queue


@dataclass
class PushReport:
    uploaded: list[Item] = field(default_factory=list)
    rejected: list[tuple[Item, Rejected]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


CHUNKED, MULTIPART = "chunked", "s3-multipart"
Progress = Callable[[Item, int, int], None]  # (item, bytes on the server, size)


def push_item(api: Api, queue: Queue, item: Item, *, chunk_size: int = DEFAULT_CHUNK,
              progress: Progress | None = None, mode: str = CHUNKED, allow_duplicate: bool = False) -> Item:
    """Upload one item to the end; returns it ``uploaded``. Raises Rejected (after marking it),
    AuthError or Unavailable (item left resumable). Content the organisation already has is not sent
    again: the item becomes ``uploaded`` with that session and ``error_code`` ``duplicate`` (a note, not a
    failure), unless ``allow_duplicate``."""
    path = Path(item.path)
    try:
        if item.state == QUEUED:
            item = _start(api, queue, item, path, mode, allow_duplicate)
        state = api.upload_state(item.upload_id)
        if state["status"] == "failed":
            raise Rejected(f"the server marked the upload failed ({state.get('error_code')}): "
                           f"{state.get('error_message')}", code=state.get("error_code") or "upload_failed")
        if state["status"] == "receiving":
            if not path.is_file() and int(state.get("offset", 0)) < item.size:
                raise Rejected(f"the local file {path} is gone before the upload finished",
                               "record or import the session again", code="file_missing")
            if state.get("mode") == MULTIPART:
                item = _send_parts(api, queue, item, path, state, progress)
            else:
                item = _send_chunks(api, queue, item, path, int(state["offset"]), chunk_size, progress)
        session = api.complete(item.upload_id)
    except Rejected as exc:
        queue.transition(item.id, REJECTED, error=exc.message, error_code=exc.code)
        raise
    if str(session.get("sha256", "")).lower() != item.sha256.lower():
        exc = Rejected(f"the server stored SHA-256 {session.get('sha256')} but the file's is {item.sha256}",
                       "the local file is kept; report this", code="checksum_mismatch")
        queue.transition(item.id, REJECTED, error=exc.message, error_code=exc.code)
        raise exc
    note = ("duplicate", f"the server already had this content as session {session['id']}; nothing was sent "
            "(push --allow-duplicate stores it again)") if item.error_code == "duplicate" else ("", "")
    return queue.transition(item.id, UPLOADED, offset=item.size, server_session=str(session["id"]),
                            uploaded_at=time.time(), error_code=note[0], error=note[1])


def _send_chunks(api: Api, queue: Queue, item: Item, path: Path, offset: int, chunk_size: int,
                 progress: Progress | None) -> Item:
    with path.open("rb") as fh:
        while offset < item.size:
            fh.seek(offset)
            data = fh.read(chunk_size)
            if not data:
                raise Rejected(f"the local file {path} is shorter than when it was queued", code="file_changed")
            offset = api.send_chunk(item.upload_id, offset, data)
            item = queue.update(item.id, offset=offset)
            if progress:
                progress(item, offset, item.size)
    return item


def _send_parts(api: Api, queue: Queue, item: Item, path: Path, state: dict, progress: Progress | None,
                batch: int = 8) -> Item:
    """s3-multipart: the parts S3 lacks, straight to S3 through presigned URLs (presigned per batch,
    just before use, so they never expire on a slow line)."""
    size, count = int(state["part_size"]), int(state["part_count"])
    have = {int(p["part"]) for p in state.get("parts", [])
            if int(p["size"]) == min(size, item.size - (int(p["part"]) - 1) * size)}
    missing = [n for n in range(1, count + 1) if n not in have]
    done = sum(min(size, item.size - (n - 1) * size) for n in have)
    with path.open("rb") as fh:
        for i in range(0, len(missing), batch):
            urls = api.presign(item.upload_id, missing[i:i + batch])
            for n in missing[i:i + batch]:
                fh.seek((n - 1) * size)
                data = fh.read(size)
                api.put_part(urls[n], data)
                done += len(data)
                item = queue.update(item.id, offset=done)
                if progress:
                    progress(item, done, item.size)
    return item


def _start(api: Api, queue: Queue, item: Item, path: Path, mode: str, allow_duplicate: bool = False) -> Item:
    if not path.is_file():
        raise Rejected(f"the session file {path} does not exist any more", "record or import it again",
                       code="file_missing")
    size, digest = path.stat().st_size, file_sha256(path)
    if item.sha256 and (size, digest) != (item.size, item.sha256):
        raise Rejected(f"the session file {path} changed after it was queued", "import it again", code="file_changed")
    subject = api.subject_pk(item.subject)
    upload = api.create_upload(key=item.idempotency_key, subject=subject, size=size, sha256=digest,
                               tasks=item.tasks, filename=path.name, mode=mode, allow_duplicate=allow_duplicate)
    return queue.transition(item.id, UPLOADING, upload_id=str(upload["id"]), size=size, sha256=digest,
                            offset=int(upload.get("offset", 0)), attempts=item.attempts + 1,
                            error_code="duplicate" if upload.get("duplicate") else "")


def apply_retention(queue: Queue, keep_days: int, now: float | None = None) -> list[str]:
    """Delete local files of confirmed uploads older than ``keep_days`` (0: at once; -1: never)."""
    if keep_days < 0:
        return []
    now = time.time() if now is None else now
    deleted = []
    for item in queue.list((UPLOADED,)):
        if item.file_deleted or not item.server_session or item.uploaded_at is None:
            continue
        if now - item.uploaded_at >= keep_days * 86400:
            try:
                os.unlink(item.path)
            except FileNotFoundError:
                pass
            queue.update(item.id, file_deleted=1)
            deleted.append(item.path)
    return deleted


def push_all(api: Api, queue: Queue, *, keep_days: int, chunk_size: int = DEFAULT_CHUNK, mode: str = CHUNKED,
             progress: Progress | None = None, on_rejected: Callable[[Item, Rejected], None] | None = None,
             on_uploaded: Callable[[Item], None] | None = None, allow_duplicate: bool = False) -> PushReport:
    """Push every pending item. Rejections are collected; auth and network failures propagate."""
    report = PushReport()
    for item in queue.pending():
        try:
            done = push_item(api, queue, item, chunk_size=chunk_size, progress=progress, mode=mode,
                             allow_duplicate=allow_duplicate)
        except Rejected as exc:
            report.rejected.append((queue.get(item.id), exc))
            if on_rejected:
                on_rejected(queue.get(item.id), exc)
            continue
        except UploaderError:
            raise
        report.uploaded.append(done)
        if on_uploaded:
            on_uploaded(done)
    report.deleted = apply_retention(queue, keep_days)
    return report
