"""Kinect v2 text export: one frame per line, tab-separated ``time_s`` then 25 x (``joint_index x y z``).

Coordinates are metres (converted to mm here); joint indices follow the Kinect v2 ``JointType`` order
(``schemas.KINECT_V2``). ``time_s`` is the seconds field of the wall clock in the exports we know, so it
wraps from ~60 back to ~0 at each full minute: such a wrap is unwrapped (and said in the warnings). The
file may be gzip-compressed. Parsing is one vectorised ``np.loadtxt`` over the whole file.
"""

from __future__ import annotations

import io

import numpy as np

from ..errors import ValidationError
from ..schemas import KINECT_V2
from ..validation import RawRecording
from ._common import Parsed, decode_text

N_JOINTS = KINECT_V2.size
N_FIELDS = 1 + 4 * N_JOINTS  # time + 25 x (index, x, y, z)
MINUTE_WRAP_S = 30.0  # a step back by more than this is the seconds field wrapping at 60


def parse(data: bytes, file: str) -> Parsed:
    """Parse a Kinect v2 tab-separated export (bytes, already gunzipped)."""
    repairs: list[str] = []
    warnings: list[str] = []
    arr = _load(data, file, repairs, warnings)
    if arr.shape[1] != N_FIELDS:
        if arr.shape[1] > 1 and (arr.shape[1] - 1) % 4 == 0:
            raise ValidationError(
                f"wrong joint count: {(arr.shape[1] - 1) // 4} joints per line, Kinect v2 has {N_JOINTS} "
                f"(expected {N_FIELDS} tab-separated fields: time_s + 25 x joint_index x y z)",
                code="joint_count", file=file, frame=0,
            )
        raise ValidationError(
            f"not a Kinect v2 export: {arr.shape[1]} fields per line, expected {N_FIELDS} "
            "(time_s + 25 x joint_index x y z, tab-separated)",
            code="parse_error", file=file,
        )
    t_s = arr[:, 0]
    groups = arr[:, 1:].reshape(len(arr), N_JOINTS, 4)
    idx = groups[:, :, 0]
    xyz = groups[:, :, 1:]
    expected = np.arange(N_JOINTS)
    if not np.array_equal(idx, np.broadcast_to(expected, idx.shape)):
        # joints listed in another order: reorder per frame when each frame is a permutation of 0..24
        idx_i = np.rint(idx).astype(np.int64) if np.isfinite(idx).all() else None
        if idx_i is None or not (np.sort(idx_i, axis=1) == expected).all():
            bad_f = int(np.flatnonzero(~(np.sort(np.nan_to_num(idx, nan=-1), axis=1) == expected).all(axis=1))[0])
            raise ValidationError(
                "joint indices are not a permutation of 0..24 (wrong joint count or corrupt line)",
                code="joint_count", file=file, frame=bad_f,
            )
        order = np.argsort(idx_i, axis=1)
        xyz = np.take_along_axis(xyz, order[:, :, None], axis=1)
        warnings.append("joints were not in JointType order: reordered by their index")
    if not np.isfinite(t_s).all():
        bad = int(np.flatnonzero(~np.isfinite(t_s))[0])
        raise ValidationError("time_s is not a number", code="non_monotonic_timestamps", file=file, frame=bad)
    dt = np.diff(t_s)
    wraps = np.flatnonzero(dt < -MINUTE_WRAP_S)
    if wraps.size:
        t_s = t_s + 60.0 * np.concatenate(([0], np.cumsum(dt < -MINUTE_WRAP_S)))
        warnings.append(
            "time_s wraps at 60 s (seconds of the minute): unwrapped after frame(s) "
            + ", ".join(str(int(w)) for w in wraps[:5])
        )
    with np.errstate(over="ignore", invalid="ignore"):
        positions = xyz * 1000.0  # metres -> mm (inf stays inf: validation reports it)
    raw = RawRecording(
        positions=positions,
        schema=KINECT_V2,
        file=file,
        timestamps_us=np.rint((t_s - t_s[0]) * 1e6).astype(np.int64),
    )
    meta = {"kinect_v2": {"time_s_first": float(arr[0, 0])}}
    return Parsed(raw=raw, sensor="kinect_v2", warnings=warnings, repairs=repairs, metadata=meta)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load(data: bytes, file: str, repairs: list[str], warnings: list[str]) -> np.ndarray:
    """[T, F] float64 from tab-separated text; a truncated last line is dropped (a repair)."""
    try:
        return np.loadtxt(io.BytesIO(data), delimiter="\t", ndmin=2, dtype=np.float64)
    except ValueError:
        pass
    lines = [ln for ln in decode_text(data, file).splitlines() if ln.strip()]
    if lines and not _is_number(lines[0].split("\t", 1)[0]):
        repairs_or_notes = f"skipped a header line ({lines[0][:40]!r})"
        lines = lines[1:]
        warnings.append(repairs_or_notes)
    counts = np.array([ln.rstrip("\t ").count("\t") + 1 for ln in lines])
    if counts.size == 0:
        raise ValidationError("empty recording: no data lines", code="empty", file=file)
    common = int(np.bincount(counts).argmax())
    odd = np.flatnonzero(counts != common)
    if odd.size == 1 and odd[0] == len(lines) - 1 and len(lines) > 1:
        repairs.append(f"dropped a truncated last line (frame {len(lines) - 1}: {counts[-1]} fields of {common})")
        lines = lines[:-1]
    elif odd.size:
        f = int(odd[0])
        raise ValidationError(
            f"line {f + 1} has {counts[f]} fields, the others {common}"
            + (f" (a frame must have {N_FIELDS})" if common == N_FIELDS else ""),
            code="joint_count", file=file, frame=f,
        )
    try:
        return np.loadtxt(lines, delimiter="\t", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValidationError(f"not a Kinect v2 export: {exc}", code="parse_error", file=file) from exc
