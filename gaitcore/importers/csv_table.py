"""Generic CSV: a header row naming joints and axes, one frame per row.

Column names are matched case-, space- and separator-insensitively (:mod:`gaitcore.importers.names`):
``Foot Left X``, ``foot_left_x``, ``SpineBase.x``, ``FootLeftX``, ``X_FootLeft``, and a bare ``Y``/``Z`` after a
joint's ``X`` column (``Foot Left X, Y, Z``) all work. A time column (``time``, ``time_s``, ``timestamp``,
``timestamp_us``, ``time_ms`` ...) gives timestamps (unit from its name, else from its step size);
without one the frames are taken at 30 Hz. Units of the coordinates are detected from the body size
(metres or millimetres; reported in the warnings). Every column that is neither a joint axis nor the time
is listed in the warnings, never silently dropped. The delimiter (``,`` ``;`` tab) is detected from the
header. Joints the table lacks are stored as missing (confidence NONE).
"""

from __future__ import annotations

import io
import re

import numpy as np

from ..errors import ValidationError
from ..schemas import AZURE32, normalise_joint_name
from ..validation import BONE_MM_METRES_SUSPECT, RawRecording, median_bone_length
from ._common import Parsed, decode_text
from .names import match_joint

_TIME_KEYS = {
    "t": "s", "time": "?", "times": "s", "timesec": "s", "seconds": "s", "timestamp": "?", "timestamps": "s",
    "timeus": "us", "timeusec": "us", "timestampus": "us", "timestampusec": "us", "timemicros": "us",
    "timems": "ms", "timemsec": "ms", "timestampms": "ms", "timemillis": "ms", "ms": "ms", "us": "us",
}  # fmt: skip
_FRAME_KEYS = {"frame", "frameid", "frameno", "framenumber", "frameindex", "index", "idx"}
_US = {"s": 1e6, "ms": 1e3, "us": 1.0}


def classify_columns(header: list[str]) -> tuple[dict[int, tuple[int, int]], int | None, str | None, list[str], list[str]]:
    """Map header columns: {column: (azure joint, axis)}, time column, its unit, unknown columns, notes."""
    joints: dict[int, tuple[int, int]] = {}
    seen: dict[tuple[int, int], int] = {}
    unknown: list[str] = []
    notes: list[str] = []
    time_col, time_unit = None, None
    prev_joint: int | None = None
    for c, name in enumerate(header):
        key = normalise_joint_name(name)
        hit = None
        if key in ("x", "y", "z"):
            if prev_joint is not None:
                hit = (prev_joint, "xyz".index(key))
        elif key in _TIME_KEYS and time_col is None:
            time_col, time_unit = c, _TIME_KEYS[key]
            prev_joint = None
            continue
        elif key in _FRAME_KEYS:
            notes.append(f"column {name.strip()!r} (frame number) not needed")
            prev_joint = None
            continue
        elif len(key) > 1:
            # suffix axis (FootLeftX, foot_left_x, SpineBase.x) or prefix axis (X_FootLeft)
            suffix = match_joint(key[:-1]) if key[-1] in "xyz" else None
            prefix = match_joint(key[1:]) if key[0] in "xyz" and re.match(r"^\s*[xyzXYZ][\W_]", name) else None
            if suffix is not None:
                hit = (suffix, "xyz".index(key[-1]))
            elif prefix is not None:
                hit = (prefix, "xyz".index(key[0]))
        if hit is None:
            unknown.append(name.strip() or f"<column {c + 1}>")
            prev_joint = None
            continue
        if hit in seen:
            notes.append(f"column {name.strip()!r} repeats {AZURE32.joints[hit[0]]} {'xyz'[hit[1]]}: ignored")
            continue
        seen[hit] = c
        joints[c] = hit
        prev_joint = hit[0]
    return joints, time_col, time_unit, unknown, notes


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=counts.get) if max(counts.values()) > 0 else ","


def parse(data: bytes, file: str) -> Parsed:
    text = decode_text(data, file)
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise ValidationError("empty file", code="empty", file=file)
    delim = _delimiter(lines[first])
    header = lines[first].split(delim)
    joints, time_col, time_unit, unknown, notes = classify_columns(header)
    warnings: list[str] = []
    if not joints:
        shown = ", ".join(h.strip() for h in header[:8]) + (" ..." if len(header) > 8 else "")
        raise ValidationError(
            f"no joint coordinate columns recognised in the header (columns: {shown}); "
            "expected names like 'Foot Left X', 'foot_left_x' or 'SpineBase.x'",
            code="not_skeleton", file=file,
        )
    # every joint needs its three axes
    by_joint: dict[int, dict[int, int]] = {}
    for c, (j, a) in joints.items():
        by_joint.setdefault(j, {})[a] = c
    incomplete = sorted(j for j, axes in by_joint.items() if len(axes) < 3)
    for j in incomplete:
        warnings.append(f"joint {AZURE32.joints[j]} lacks an axis column ({', '.join('xyz'[a] for a in sorted(by_joint[j]))} only): ignored")
        del by_joint[j]
    if not by_joint:
        raise ValidationError("no joint has x, y and z columns", code="not_skeleton", file=file)
    if unknown:
        warnings.append(f"{len(unknown)} unknown column(s) ignored: {', '.join(unknown)}")
    warnings.extend(notes)

    body = lines[first + 1:]
    if not any(ln.strip() for ln in body):
        raise ValidationError("empty recording: header but no data rows", code="empty", file=file)
    jlist = sorted(by_joint)
    cols = [by_joint[j][a] for j in jlist for a in range(3)]
    usecols = cols + ([time_col] if time_col is not None else [])
    table = _load_table(body, delim, usecols, file, first + 2)
    n = table.shape[0]
    xyz = table[:, : len(cols)].reshape(n, len(jlist), 3)
    positions = np.full((n, AZURE32.size, 3), np.nan)
    positions[:, jlist] = xyz
    present = np.zeros(AZURE32.size, bool)
    present[jlist] = True

    # units from the body size
    bone = median_bone_length(positions, AZURE32, present)
    if np.isfinite(bone) and bone < BONE_MM_METRES_SUSPECT:
        with np.errstate(over="ignore", invalid="ignore"):
            positions *= 1000.0
        units = "metres"
    else:
        units = "millimetres"
    warnings.append(f"coordinates taken as {units} (from the body size: median bone {bone:.3g} in file units)")

    ts = None
    if time_col is not None:
        t = table[:, -1]
        if np.isfinite(t).all() and n > 1:
            unit = time_unit if time_unit != "?" else _guess_time_unit(t)
            ts = np.rint((t - t[0]) * _US[unit]).astype(np.int64)
            notes_unit = f"time column {header[time_col].strip()!r} in {unit}"
            warnings.append(notes_unit)
        elif not np.isfinite(t).all():
            bad = int(np.flatnonzero(~np.isfinite(t))[0])
            raise ValidationError("time column is not a number", code="non_monotonic_timestamps", file=file, frame=bad)
    else:
        warnings.append("no time column: frames taken at 30 Hz")
    raw = RawRecording(positions=positions, schema=AZURE32, file=file, timestamps_us=ts, present=present)
    meta = {"csv": {"units": units, "joints": [AZURE32.joints[j] for j in jlist],
                    "unknown_columns": unknown}}
    return Parsed(raw=raw, sensor="csv", warnings=warnings, metadata=meta)


def _guess_time_unit(t: np.ndarray) -> str:
    step = float(np.median(np.diff(t)))
    if step >= 1000:
        return "us"
    if step >= 1:
        return "ms"
    return "s"


def _load_table(body: list[str], delim: str, usecols: list[int], file: str, first_line: int) -> np.ndarray:
    """[T, len(usecols)] float64; empty cells become NaN."""
    rows = [ln for ln in body if ln.strip()]
    if delim != "," and any("," in r for r in rows[:5]):
        rows = [r.replace(",", ".") for r in rows]  # decimal comma (European spreadsheet export)
    try:
        return np.loadtxt(rows, delimiter=delim, usecols=usecols, ndmin=2, dtype=np.float64)
    except ValueError:
        pass
    try:
        arr = np.genfromtxt(io.StringIO("\n".join(rows)), delimiter=delim, usecols=usecols,
                            dtype=np.float64, invalid_raise=True, filling_values=np.nan)
        return arr.reshape(len(rows), len(usecols))
    except ValueError as exc:
        raise ValidationError(f"rows do not match the header: {exc}", code="parse_error", file=file) from exc
