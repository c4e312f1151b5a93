"""Where a pretraining run keeps its checkpoints: a local folder or an S3 prefix, one small interface.

``open_store(url)`` takes a path (``/data/runs/r1``, ``file:///data/runs/r1``) or ``s3://bucket/prefix``.
S3 is reached through boto3 with its usual credential chain; ``GAIT_S3_ENDPOINT_URL`` and
``GAIT_S3_REGION`` (the platform's storage settings) name a non-AWS endpoint (MinIO, moto) and region.

Layout under the store (see docs/training.md)::

    checkpoints/step-00000120-<12 hex>.pt   one object per checkpoint, never overwritten
    latest                                  JSON pointer: {"key": "checkpoints/...", "step": 120, ...}

The pointer is the only object that is ever replaced, and it is replaced only after the checkpoint it
names is completely written: ``os.replace`` of a fully written temporary file locally; on S3 a PUT of
the pointer after the checkpoint's upload returned (an S3 PUT is atomic: a reader sees the old or the
new object, never a torn one). A crash at any moment leaves ``latest`` naming a complete checkpoint (or
no pointer at all), so a restart resumes from the last checkpoint that was fully written.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

POINTER = "latest"
CHECKPOINTS = "checkpoints"


class StoreError(Exception):
    """The checkpoint store cannot be read or written (bad URL, missing bucket, access denied)."""


class ObjectStore(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...  # None: no such object
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...


class LocalStore:
    """A folder; keys are relative paths. Every put is a temp file + fsync + ``os.replace``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and
                      not p.name.startswith("."))


class S3Store:
    """``s3://bucket/prefix`` through boto3 (uploads of large checkpoints are multipart: ``upload_fileobj``)."""

    def __init__(self, bucket: str, prefix: str, client=None):
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=os.environ.get("GAIT_S3_ENDPOINT_URL") or None,
                                  region_name=os.environ.get("GAIT_S3_REGION") or None)
        self.client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn, *a, **kw):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*a, **kw)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404") and what == "get":
                return None
            raise StoreError(f"{what} {self.url}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"{what} {self.url}: {exc}") from exc

    def put(self, key: str, data: bytes) -> None:
        import io

        self._call("put", self.client.upload_fileobj, io.BytesIO(data), self.bucket, self._key(key))

    def get(self, key: str) -> bytes | None:
        obj = self._call("get", self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        return None if obj is None else obj["Body"].read()

    def delete(self, key: str) -> None:
        self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str) -> list[str]:
        out, token = [], None
        base = self._key(prefix)
        while True:
            kw = {"Bucket": self.bucket, "Prefix": base}
            if token:
                kw["ContinuationToken"] = token
            page = self._call("list", self.client.list_objects_v2, **kw)
            cut = len(self.prefix) + 1 if self.prefix else 0
            out += [o["Key"][cut:] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(out)
            token = page["NextContinuationToken"]


def open_store(url: str | os.PathLike) -> ObjectStore:
    """A store for a local path, a ``file://`` URL or an ``s3://bucket/prefix`` URL."""
    s = str(url)
    u = urlparse(s)
    if u.scheme == "s3":
        if not u.netloc:
            raise StoreError(f"{s}: an S3 URL names a bucket: s3://bucket/prefix")
        return S3Store(u.netloc, u.path)
    if u.scheme == "file":
        return LocalStore(u.path)
    if u.scheme and len(u.scheme) > 1:  # "c:" style drive letters are paths
        raise StoreError(f"{s}: unsupported checkpoint store (a local path, file:// or s3://bucket/prefix)")
    return LocalStore(s)


class CheckpointStore:
    """Checkpoints under unique names plus the ``latest`` pointer (written last)."""

    def __init__(self, store: ObjectStore, keep: int = 3):
        self.store, self.keep = store, keep

    @classmethod
    def open(cls, url: str | os.PathLike, keep: int = 3) -> CheckpointStore:
        return cls(open_store(url), keep)

    @property
    def url(self) -> str:
        return self.store.url

    def latest(self) -> dict | None:
        """The pointer ({"key", "step", "written_at", ...}) or None when nothing was checkpointed yet."""
        raw = self.store.get(POINTER)
        if raw is None:
            return None
        try:
            ptr = json.loads(raw)
        except ValueError as exc:
            raise StoreError(f"{self.url}/{POINTER} is not a JSON pointer ({exc})") from exc
        if not isinstance(ptr, dict) or not isinstance(ptr.get("key"), str):
            raise StoreError(f"{self.url}/{POINTER} names no checkpoint: {ptr!r}")
        return ptr

    def read(self, key: str) -> bytes:
        data = self.store.get(key)
        if data is None:
            raise StoreError(f"{self.url}/{key} (named by {POINTER}) does not exist")
        return data

    def write(self, step: int, data: bytes, **info) -> dict:
        """Write a checkpoint object under a new name, then move the pointer to it; prune old ones."""
        key = f"{CHECKPOINTS}/step-{step:08d}-{uuid.uuid4().hex[:12]}.pt"
        self.store.put(key, data)  # returns only when the object is complete
        ptr = {"key": key, "step": step, "bytes": len(data), "written_at": time.time(), **info}
        self.store.put(POINTER, json.dumps(ptr, sort_keys=True).encode())
        self._prune(key)
        return ptr

    def put(self, key: str, data: bytes) -> None:
        """A side object of the run (e.g. ``model.pt``, ``summary.json``), written whole."""
        self.store.put(key, data)

    def _prune(self, current: str) -> None:
        if self.keep <= 0:
            return
        keys = [k for k in self.store.list(CHECKPOINTS + "/") if k.endswith(".pt")]
        old = sorted(keys)[:-self.keep]  # names sort by step (zero-padded)
        for k in old:
            if k != current:
                self.store.delete(k)
