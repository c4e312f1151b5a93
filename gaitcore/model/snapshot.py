"""A training job's data snapshot in an object store: the exact session files a pretraining run may read.

The platform freezes a job's snapshot (which sessions, with the SHA-256 of each file) when the job is
created. To train somewhere else (a Kubernetes pod), the worker exports those files to the job's store
(``<checkpoint store>/jobs/<id>/data``) and the trainer fetches them back, checking every hash, so the
pod trains on exactly the snapshot and nothing else. Layout under the data URL::

    files/<name>.gait.npz   one object per session file (written once)
    init.pt                 a warm start's weights (optional; a GaitMAE checkpoint)
    manifest.json           {"snapshot_hash", "job", "files": [{"name", "sha256", "session", ...}],
                             "init": {"sha256"} or null}, written last

A manifest therefore names only files that are completely written. Local folders and ``s3://`` URLs
alike (:mod:`.store`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from .store import StoreError, open_store

MANIFEST = "manifest.json"
INIT = "init.pt"
FILES = "files"


class SnapshotError(ValueError):
    """A snapshot's manifest is missing or a file does not match its recorded SHA-256."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_snapshot(url: str, files: Iterable[dict], read: Callable[[dict], bytes], *, snapshot_hash: str,
                    job: int | None = None, init: bytes | None = None,
                    progress: Callable[[int, int], None] | None = None) -> dict:
    """Write each file of ``files`` (dicts with ``name`` and ``sha256``; ``read(item)`` gives its bytes)
    under ``url`` unless already there, checking its hash, then ``init`` (warm-start weights) if given,
    then the manifest. Returns the manifest."""
    store = open_store(url)
    items = list(files)
    present = set(store.list(FILES + "/"))
    for i, item in enumerate(items):
        key = f"{FILES}/{item['name']}"
        if key not in present:
            data = read(item)
            if sha256_hex(data) != item["sha256"]:
                raise SnapshotError(f"{item['name']}: its content no longer matches the snapshot's SHA-256 "
                                    f"{item['sha256'][:12]}")
            store.put(key, data)
        if progress is not None:
            progress(i + 1, len(items))
    manifest = {"snapshot_hash": snapshot_hash, "job": job, "files": items, "init": None}
    if init is not None:
        store.put(INIT, init)
        manifest["init"] = {"sha256": sha256_hex(init)}
    store.put(MANIFEST, json.dumps(manifest, sort_keys=True).encode())
    return manifest


def write_local_manifest(dest: Path, manifest: dict) -> None:
    """The run's data folder gets a short manifest (the snapshot hash and size): a checkpoint's metadata
    records it as the source of the data (``train._meta``)."""
    short = {"snapshot_hash": manifest.get("snapshot_hash"), "job": manifest.get("job"),
             "n_files": len(manifest.get("files", []))}
    (dest / MANIFEST).write_text(json.dumps(short, sort_keys=True))


def fetch_snapshot(url: str, dest: str | os.PathLike, progress: Callable[[int, int], None] | None = None) -> dict:
    """Copy the snapshot at ``url`` into the folder ``dest`` (files already there with the right hash are
    kept), checking every file's SHA-256. Returns ``{"data": dest/files (the folder to train on), "init":
    dest/init.pt or None}``."""
    store = open_store(url)
    raw = store.get(MANIFEST)
    if raw is None:
        raise SnapshotError(f"{store.url}/{MANIFEST} does not exist: the job's data were not exported")
    try:
        manifest = json.loads(raw)
        items = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"{store.url}/{MANIFEST} is not a snapshot manifest ({exc})") from exc
    dest = Path(dest)
    out = dest / FILES
    out.mkdir(parents=True, exist_ok=True)
    for i, item in enumerate(items):
        path = out / item["name"]
        if not (path.exists() and sha256_hex(path.read_bytes()) == item["sha256"]):
            data = store.get(f"{FILES}/{item['name']}")
            if data is None:
                raise SnapshotError(f"{store.url}/{FILES}/{item['name']} is missing")
            if sha256_hex(data) != item["sha256"]:
                raise SnapshotError(f"{store.url}/{FILES}/{item['name']} does not match its SHA-256 in the manifest")
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # ranks of one node may fetch at once
            tmp.write_bytes(data)
            os.replace(tmp, path)
        if progress is not None:
            progress(i + 1, len(items))
    init = None
    if manifest.get("init"):
        data = store.get(INIT)
        if data is None or sha256_hex(data) != manifest["init"]["sha256"]:
            raise SnapshotError(f"{store.url}/{INIT} is missing or does not match its SHA-256 in the manifest")
        init = dest / INIT
        tmp = init.with_name(f".{INIT}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, init)
    write_local_manifest(dest, manifest)
    return {"data": out, "init": init}


__all__ = ["SnapshotError", "StoreError", "export_snapshot", "fetch_snapshot", "write_local_manifest", "sha256_hex"]
