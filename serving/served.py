"""The served set: the GaitMAE versions every TorchServe pod of a cluster serves, and which is the default.

One JSON object in object storage (``GAIT_TORCHSERVE_SERVED_POINTER``, e.g. ``models/gaitmae/served.json``
in the platform's storage), the archives next to it::

    {"model": "gaitmae", "default": "<version>" | null,
     "versions": {"<version>": {"archive": "gaitmae-<version>.mar", "sha256": "<hex>", "bytes": 123}},
     "written_at": 1765000000.0}

``archive`` is a key beside the pointer. ``default: null`` claims no default: each pod keeps the one it
serves (the champion its initContainer loaded). The object is written whole (an S3 PUT, or a temporary
file + ``os.replace`` locally: ``gaitcore.model.store``), after the archives it names, so a reader sees
the old or the new set, never a torn one. The writer is the platform's encoder rollout
(``workers.rollout``; one rollout runs at a time); the readers are the pods' sync sidecars
(``serving.sync``).

A pointer is a URL (``s3://bucket/key``, ``file:///path``, an absolute path) or a key of the platform's
storage (``GAIT_STORAGE``: ``s3`` -> ``GAIT_S3_BUCKET``; ``local`` -> the media folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from urllib.parse import urlparse

from gaitcore.model.store import ObjectStore, StoreError, open_store

REPO = Path(__file__).resolve().parents[1]


class PointerError(RuntimeError):
    """The served-set pointer exists but cannot be read or is not a served set."""


def pointer_store(spec: str, media_root: str | os.PathLike | None = None) -> tuple[ObjectStore, str]:
    """(store of the pointer's folder, the pointer's key in it) for a pointer URL or storage key."""
    spec = spec.strip()
    if not spec:
        raise PointerError("no served-set pointer configured")
    parent, _, name = spec.rstrip("/").rpartition("/")
    if urlparse(spec).scheme in ("s3", "file") or os.path.isabs(spec):
        return open_store(parent or "/"), name
    if (os.environ.get("GAIT_STORAGE", "local").strip().lower() or "local") == "s3":
        bucket = os.environ.get("GAIT_S3_BUCKET", "").strip()
        if not bucket:
            raise PointerError(f"pointer {spec!r} is a storage key but GAIT_S3_BUCKET is not set")
        return open_store(f"s3://{bucket}/{parent}"), name
    root = Path(media_root or os.environ.get("GAIT_MEDIA_ROOT") or REPO / "var" / "media")
    return open_store(root / parent), name


def empty(model: str = "gaitmae") -> dict:
    return {"model": model, "default": None, "versions": {}, "written_at": None}


def parse(raw: bytes, where: str = "pointer") -> dict:
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise PointerError(f"{where} is not JSON ({exc})") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("versions"), dict):
        raise PointerError(f"{where} is not a served set (no 'versions' object): {str(obj)[:200]}")
    for v, entry in obj["versions"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("archive"), str):
            raise PointerError(f"{where}: version {v!r} names no archive")
    default = obj.get("default")
    if default is not None and default not in obj["versions"]:
        raise PointerError(f"{where}: default {default!r} is not one of its versions")
    obj.setdefault("model", "gaitmae")
    return obj


def read(store: ObjectStore, key: str) -> dict | None:
    """The served set, or None when there is no pointer object. Raises StoreError / PointerError."""
    raw = store.get(key)
    return None if raw is None else parse(raw, f"{store.url}/{key}")


def write(store: ObjectStore, key: str, served: dict) -> dict:
    """Replace the pointer (whole). Every archive it names must already be in the store."""
    parse(json.dumps(served).encode(), f"{store.url}/{key}")  # never write what a reader would refuse
    served = {**served, "written_at": time.time()}
    store.put(key, json.dumps(served, indent=1, sort_keys=True).encode())
    return served


def archive_entry(store: ObjectStore, archive: Path, key: str | None = None) -> dict:
    """Upload a built archive beside the pointer (unless an identical object is there); its entry."""
    data = Path(archive).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    key = key or Path(archive).name
    have = store.get(key)
    if have is None or hashlib.sha256(have).hexdigest() != sha:
        store.put(key, data)
    return {"archive": key, "sha256": sha, "bytes": len(data)}


__all__ = ["PointerError", "StoreError", "archive_entry", "empty", "parse", "pointer_store", "read", "write"]
