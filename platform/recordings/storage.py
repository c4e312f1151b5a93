"""Where upload bytes live: Django's default storage (local files by default, S3 in production).

Chunked uploads stage each chunk as its own object (``uploads/<org>/<upload>/<offset>.part``) through
the storage API, so the same code runs on the filesystem and on S3 and any API replica can take the next
chunk. S3 multipart uploads (presigned part URLs, bytes go straight to S3) stage one object
``uploads/<org>/<upload>/multipart``. Accepted files are stored at ``sessions/<org>/<upload>.gait.npz``.
"""

from __future__ import annotations

import io
import logging
from contextlib import contextmanager

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages

log = logging.getLogger("recordings")


def storage():
    return storages["default"]


def _storage_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [OSError]
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        errs += [BotoCoreError, ClientError]
    except ImportError:  # pragma: no cover - S3 support not installed
        pass
    return tuple(errs)


@contextmanager
def available(what: str):
    """Turn a storage fault (read-only or full media folder, S3 unreachable or refusing) inside the block
    into the API's 503 ``storage_unavailable`` with the reason; the request's transaction rolls back."""
    from gaitsite.api import APIError

    try:
        yield
    except _storage_errors() as exc:
        log.warning("storage unavailable while %s: %s: %s", what, type(exc).__name__, exc)
        raise APIError(503, "storage_unavailable", f"the file storage is unavailable while {what} "
                       f"({type(exc).__name__}: {str(exc)[:200]}); nothing was stored: try again later",
                       {"retry": True}) from None


def is_s3(st=None) -> bool:
    st = st or storage()
    return hasattr(st, "bucket_name") and hasattr(st, "connection")


def s3_client(st=None):
    st = st or storage()
    return st.connection.meta.client


def s3_key(st, name: str) -> str:
    from storages.utils import clean_name

    return st._normalize_name(clean_name(name))


def staging_prefix(upload) -> str:
    return f"uploads/{upload.organisation_id}/{upload.pk}/"


def chunk_name(upload, offset: int) -> str:
    return f"{staging_prefix(upload)}{offset:015d}.part"


def multipart_name(upload) -> str:
    return f"{staging_prefix(upload)}multipart"


def final_name(upload) -> str:
    return f"sessions/{upload.organisation_id}/{upload.pk}.gait.npz"


def save_exact(name: str, data: bytes) -> str:
    """Save under exactly ``name`` (refusing to overwrite); returns the stored name."""
    st = storage()
    stored = st.save(name, ContentFile(data))
    if stored != name:  # a leftover with that name existed: never mix bytes of two attempts
        st.delete(stored)
        raise FileExistsError(name)
    return stored


def read(name: str) -> bytes:
    with storage().open(name, "rb") as fh:
        return fh.read()


def delete_quietly(*names: str) -> None:
    st = storage()
    for name in names:
        try:
            st.delete(name)
        except Exception:  # noqa: BLE001 - best effort cleanup; a sweeper removes stragglers
            pass


def assemble(upload) -> bytes:
    """The staged bytes of a chunked upload, in offset order."""
    buf = io.BytesIO()
    for offset, _length in sorted(upload.chunks):
        buf.write(read(chunk_name(upload, offset)))
    return buf.getvalue()


def min_part_size() -> int:
    return int(getattr(settings, "UPLOAD_S3_MIN_PART_BYTES", 5 * 1024 * 1024))
