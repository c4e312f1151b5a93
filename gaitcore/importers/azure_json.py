"""Azure Kinect Body Tracking ``offline_processor`` JSON.

Top level: ``k4abt_sdk_version``, ``source_file``, ``joint_names`` (32 upper-case names), ``bone_list``,
``frames``; each frame ``{timestamp_usec, frame_id, num_bodies, bodies: [{body_id, joint_positions:
32 x [x, y, z] (mm), joint_orientations: 32 x [w, x, y, z]}]}``. ``frame_id`` may have gaps (timestamps
are used). The format carries no confidence: every joint present gets MEDIUM. Several bodies: see
:mod:`gaitcore.importers._bodies`.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np

from ..errors import ValidationError
from ..schemas import AZURE32
from ..validation import RawRecording
from ._bodies import BodyTrack, choose_body
from ._common import Parsed, decode_text

# Fast path: the joint arrays are cut out of the text with a regular expression and parsed by numpy in one
# go; ``json`` only sees the small remainder. (Plain ``json.loads`` of a 3-min recording, ~15 MB, takes
# ~0.35 s, mostly building Python floats for the orientations we do not use.) Any surprise -> slow path.
_ARRAY = rb"(\[[\s\[\]0-9eE+\-.,nul]*\])"
_POSITIONS = re.compile(rb'"joint_positions"\s*:\s*' + _ARRAY)
_TO_SPACES = bytes.maketrans(b"[],\n\r\t", b"      ")
_ORIENTATIONS = re.compile(rb'"joint_orientations"\s*:\s*' + _ARRAY)


def _fast_load(data: bytes) -> tuple[dict, np.ndarray] | None:
    """(document with each joint_positions replaced by a row index, positions [N, 32, 3]) or None."""
    chunks: list[bytes] = []

    def cut(m: re.Match) -> bytes:
        chunks.append(m.group(1))
        return b'"joint_positions":%d' % (len(chunks) - 1)

    stripped = _POSITIONS.sub(cut, _ORIENTATIONS.sub(b'"joint_orientations":null', data))
    if not chunks or any(c.count(b"[") != AZURE32.size + 1 for c in chunks):
        return None  # let the slow path produce the precise error
    blob = b"\n".join(c.translate(_TO_SPACES) for c in chunks).replace(b"null", b"nan")  # one row per body
    table = np.loadtxt(io.BytesIO(blob), dtype=np.float64, ndmin=2)
    if table.shape != (len(chunks), 3 * AZURE32.size):
        return None
    doc = json.loads(stripped)
    return doc, table.reshape(len(chunks), AZURE32.size, 3)


def parse(data: bytes, file: str) -> Parsed:
    doc, table = _load_document(data, file)
    frames = _frames(doc, file)
    perm = _joint_permutation(doc.get("joint_names"), file)
    timestamps, per_body = _bodies_per_frame(frames, table, file)
    tracks = _body_tracks(per_body, table, perm, file)
    warnings: list[str] = []
    kept, msg = choose_body(tracks, len(frames))
    if msg:
        warnings.append(msg)
    if len(kept.frames) < len(frames):
        warnings.append(f"body {kept.body_id} absent from {len(frames) - len(kept.frames)} of {len(frames)} frames: "
                        "those frames are dropped")
    raw = RawRecording(
        positions=kept.positions, schema=AZURE32, file=file, timestamps_us=timestamps[kept.frames]
    )
    meta = {
        "azure_kinect": {
            "k4abt_sdk_version": str(doc.get("k4abt_sdk_version", "")),
            "source_file": str(doc.get("source_file", "")),
            "body_id": kept.body_id,
            "bodies_in_view": len(tracks),
        }
    }
    return Parsed(raw=raw, sensor="azure_kinect", warnings=warnings, metadata=meta)


def _load_document(data: bytes, file: str) -> tuple[dict, np.ndarray | None]:
    """(the JSON document, the positions table of the fast path or None: positions then stay in the document)."""
    try:
        fast = _fast_load(data)
    except (ValueError, UnicodeDecodeError):  # json or numbers not as expected
        fast = None
    if fast is not None:
        return fast
    try:
        return json.loads(decode_text(data, file)), None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON: {exc}", code="parse_error", file=file) from exc


def _frames(doc, file: str) -> list:
    if not isinstance(doc, dict) or "frames" not in doc:
        raise ValidationError("not an offline_processor JSON (no 'frames')", code="parse_error", file=file)
    frames = doc.get("frames") or []
    if not isinstance(frames, list):
        raise ValidationError("'frames' is not a list", code="parse_error", file=file)
    if not frames:
        raise ValidationError("empty recording: 'frames' is empty", code="empty", file=file)
    return frames


def _joint_permutation(names, file: str) -> list[int] | None:
    """Where each of the file's joints (``joint_names``) goes in AZURE32 order; None when already in it."""
    if names is None:
        return None
    if len(names) != AZURE32.size:
        raise ValidationError(
            f"wrong joint count: joint_names lists {len(names)} joints, Azure Kinect has {AZURE32.size}",
            code="joint_count", file=file,
        )
    upper = [str(n).upper() for n in names]
    if upper == list(AZURE32.joints):
        return None
    try:
        return [AZURE32.index(n) for n in upper]
    except ValueError as exc:
        raise ValidationError(f"unknown joint name in joint_names: {exc}", code="parse_error", file=file) from exc


def _bodies_per_frame(frames: list, table: np.ndarray | None, file: str):
    """(timestamps of every frame, {body id: (frame indices, positions or rows of ``table``)})."""
    timestamps = np.empty(len(frames), np.int64)
    per_body: dict[int, tuple[list[int], list]] = {}
    for f, fr in enumerate(frames):
        try:
            timestamps[f] = int(fr["timestamp_usec"])
            bodies = fr.get("bodies") or []
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"frame without a valid timestamp_usec ({exc})", code="parse_error", file=file, frame=f) from exc
        for b in bodies:
            jp = b.get("joint_positions")
            if table is not None and isinstance(jp, int):
                ids, rows = per_body.setdefault(int(b.get("body_id", 0)), ([], []))
                ids.append(f)
                rows.append(jp)
                continue
            if jp is None or len(jp) != AZURE32.size:
                raise ValidationError(
                    f"wrong joint count: body {b.get('body_id')} has {0 if jp is None else len(jp)} joint positions, "
                    f"expected {AZURE32.size}",
                    code="joint_count", file=file, frame=f,
                )
            ids, pos = per_body.setdefault(int(b.get("body_id", 0)), ([], []))
            ids.append(f)
            pos.append(jp)
    if not per_body:
        raise ValidationError("empty recording: no body was tracked in any frame", code="empty", file=file)
    return timestamps, per_body


def _body_tracks(per_body: dict, table: np.ndarray | None, perm: list[int] | None, file: str) -> list[BodyTrack]:
    """One track per body: positions [n, 32, 3] in AZURE32 order."""
    tracks = []
    for body_id, (ids, pos) in per_body.items():
        try:
            arr = table[pos] if table is not None else np.array(pos, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"body {body_id}: joint_positions are not 32 x [x, y, z] numbers",
                                  code="parse_error", file=file, frame=ids[0]) from exc
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValidationError(f"body {body_id}: joint_positions are not 32 x [x, y, z]",
                                  code="parse_error", file=file, frame=ids[0])
        if perm is not None:
            out = np.empty_like(arr)
            out[:, perm] = arr
            arr = out
        tracks.append(BodyTrack(body_id, np.array(ids), arr, None))
    return tracks
