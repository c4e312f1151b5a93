"""A job's data snapshot in a store (gaitcore.model.snapshot): exported once, fetched with every SHA-256
checked; a tampered or missing object is refused with its name."""

from __future__ import annotations

import hashlib
import json

import pytest

from gaitcore.model.snapshot import SnapshotError, export_snapshot, fetch_snapshot


def _files(n=3):
    data = {f"s{i}.gait.npz": f"session {i}".encode() * 100 for i in range(n)}
    return data, [{"name": k, "sha256": hashlib.sha256(v).hexdigest(), "session": i}
                  for i, (k, v) in enumerate(data.items())]


def test_export_then_fetch_gives_exactly_the_snapshot(tmp_path):
    data, items = _files()
    reads = []
    url = str(tmp_path / "store" / "data")
    man = export_snapshot(url, items, lambda it: reads.append(it["name"]) or data[it["name"]], snapshot_hash="h1", job=4,
                          init=b"weights")
    assert man["init"] == {"sha256": hashlib.sha256(b"weights").hexdigest()} and len(reads) == 3
    export_snapshot(url, items, lambda it: reads.append(it["name"]) or data[it["name"]], snapshot_hash="h1", job=4)
    assert len(reads) == 3  # files already exported are not read again
    got = fetch_snapshot(url, tmp_path / "run" / "data")
    assert sorted(p.name for p in got["data"].iterdir()) == sorted(data)
    assert all((got["data"] / k).read_bytes() == v for k, v in data.items())
    assert got["init"] is None  # the second export carried no init
    local = json.loads((tmp_path / "run" / "data" / "manifest.json").read_text())
    assert local == {"snapshot_hash": "h1", "job": 4, "n_files": 3}


def test_a_tampered_or_missing_object_is_refused(tmp_path):
    data, items = _files()
    url = tmp_path / "store"
    export_snapshot(str(url), items, lambda it: data[it["name"]], snapshot_hash="h", job=1)
    (url / "files" / "s1.gait.npz").write_bytes(b"other bytes")
    with pytest.raises(SnapshotError, match="s1.gait.npz does not match its SHA-256"):
        fetch_snapshot(str(url), tmp_path / "a")
    (url / "files" / "s1.gait.npz").unlink()
    with pytest.raises(SnapshotError, match="s1.gait.npz is missing"):
        fetch_snapshot(str(url), tmp_path / "b")
    with pytest.raises(SnapshotError, match="the job's data were not exported"):
        fetch_snapshot(str(tmp_path / "nothing"), tmp_path / "c")
    with pytest.raises(SnapshotError, match="no longer matches"):
        export_snapshot(str(tmp_path / "x"), items, lambda it: b"changed", snapshot_hash="h")
