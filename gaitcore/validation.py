"""Validate and repair raw skeleton recordings before they become sessions.

Every importer parses its format into a :class:`RawRecording` (positions already in millimetres, in the
*source* joint schema so that messages use the file's own joint names) and hands it to
:func:`validate_recording`. That function either returns a :class:`CleanRecording` -- possibly repaired,
with every repair described in plain words -- or raises :class:`~gaitcore.errors.ValidationError` whose
message names the file, the frame (0-based index of the frame in the input file) and the joint.

What is rejected (``ValidationError.code``):

===========================  =======================================================================
``empty``                    no frames at all (empty file, header only)
``joint_count``              a frame does not have the schema's joint count (raised by the parsers)
``non_finite``               too many NaN / inf values to repair
``absurd_coordinates``       too many coordinates beyond ``ABSURD_COORDINATE_MM`` (or uninitialised
                             memory such as 6.9e-310) to repair
``wrong_units``              the body is 1000x too small or too large for millimetres (metres given
                             where millimetres are expected, or the reverse)
``non_monotonic_timestamps`` timestamps go backwards more than ``MAX_OUT_OF_ORDER_FRAMES`` times
``duplicate_timestamps``     more than ``MAX_DUPLICATE_FRACTION`` of the frames repeat a timestamp
``tracking_jumps``           more than ``MAX_JUMP_FRACTION`` of the joint values jump away and back
``too_short``                fewer than ``MIN_USABLE_SECONDS`` of usable frames
``too_large``                file larger than ``Limits.max_file_bytes`` or longer than
                             ``Limits.max_duration_s``
===========================  =======================================================================

What is repaired (and reported):

* corrupt frames (any coordinate NaN/inf-with-garbage, beyond 10 m or subnormal) at the start or end of
  the recording are trimmed; corrupt frames inside it are interpolated when the run is at most
  ``MAX_INTERPOLATE_FRAMES`` long, masked (confidence NONE) otherwise. A frame with one garbage value is
  treated as corrupt as a whole: in the real Kinect v2 exports such frames are uninitialised buffers
  whose other values look plausible but are wrong.
* NaN in single joints (missing values): short interior runs interpolated, others masked;
  a joint that is never valid is stored as missing (a warning, not a repair);
* duplicated timestamps: the later frame is dropped; a few out-of-order frames are dropped;
* a few frames isolated from the rest by a gap longer than ``EDGE_GAP_SECONDS`` at either end are dropped;
* single-frame joint jumps (a joint leaves and comes back faster than ``MAX_JOINT_SPEED_MM_S``) are
  replaced by interpolation.

Interpolated joints get confidence LOW; masked joints get confidence NONE and position 0. The thresholds
below are documented in docs/validation.md. This module imports numpy only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ValidationError
from .schemas import FRAME_RATE_HZ, Confidence, JointSchema

# --- thresholds (documented in docs/validation.md) ------------------------------------------------
ABSURD_COORDINATE_MM = 10_000.0  # |coordinate| beyond 10 m is not a person in front of a depth camera
SUBNORMAL_MM = 1e-20  # 0 < |v| < this: uninitialised memory (6.9e-310 ...), never a real coordinate
MAX_INTERPOLATE_FRAMES = 5  # interior gaps up to this many frames (~0.17 s at 30 Hz) are interpolated
MAX_CORRUPT_FRAME_FRACTION = 0.2  # more corrupt interior frames than this -> rejected
MAX_MISSING_FRACTION = 0.5  # more missing joint values (of the joints present) than this -> rejected
MAX_DUPLICATE_FRACTION = 0.5  # more frames repeating a timestamp than this -> rejected
MAX_OUT_OF_ORDER_FRAMES = 3  # more frames going back in time than this -> rejected
EDGE_GAP_SECONDS = 1.0  # a gap longer than this near either end isolates the frames beyond it
MAX_EDGE_SEGMENT_FRAMES = 5  # ... which are dropped when there are at most this many of them
MAX_JOINT_SPEED_MM_S = 15_000.0  # faster than 15 m/s (there and back) is a tracking jump
MIN_JUMP_MM = 300.0  # ... and the jump must be at least this large
MAX_JUMP_FRACTION = 0.01  # more jumping joint values than this (of those present) -> rejected
MIN_USABLE_SECONDS = 2.0  # fewer usable seconds than this -> rejected
# Median bone length (mm) of an adult skeleton lies within ~40-450 mm. Outside the plausible band by a
# factor of ~1000 means wrong units.
BONE_MM_PLAUSIBLE = (15.0, 1500.0)
BONE_MM_METRES_SUSPECT = 2.0  # median bone below this: the numbers are metres, not millimetres
BONE_MM_TOO_LARGE = 15_000.0  # median bone above this: millimetres were scaled by 1000 again
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3  # 2 GiB of input (a 3-min Azure JSON is ~100 MB)
DEFAULT_MAX_DURATION_S = 4 * 3600.0  # 4 hours


@dataclass(frozen=True)
class Limits:
    """Configurable limits (``gaitfm import --max-file-mb/--max-minutes``)."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    min_usable_s: float = MIN_USABLE_SECONDS


DEFAULT_LIMITS = Limits()


@dataclass
class RawRecording:
    """A parsed recording in its source joint schema, before validation.

    positions: [T, J, 3] float64, millimetres (parsers convert metres); NaN marks a missing value.
    timestamps_us: [T] int64 microseconds, or None for formats without time (nominal 30 Hz).
    confidence: [T, J] uint8 from the sensor, or None (every valid joint gets MEDIUM).
    present: [J] bool, joints the file provides (others are stored as missing), None = all.
    """

    positions: np.ndarray
    schema: JointSchema
    file: str
    timestamps_us: np.ndarray | None = None
    confidence: np.ndarray | None = None
    present: np.ndarray | None = None


@dataclass
class CleanRecording:
    """Validated (and possibly repaired) recording, still in the source schema.

    positions [T, J, 3] float32 mm (0 where confidence is NONE), confidence [T, J] uint8,
    timestamps_us [T] int64 strictly increasing, repaired [T, J] bool (interpolated or masked values),
    source_frames [T] int64 (index of each kept frame in the input file).
    """

    positions: np.ndarray
    confidence: np.ndarray
    timestamps_us: np.ndarray
    repaired: np.ndarray
    source_frames: np.ndarray
    repairs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- file-level checks -----------------------------------------------------------------------------
def check_file(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> int:
    """Reject an empty or too large file before parsing it. Returns its size in bytes."""
    p = Path(path)
    size = p.stat().st_size
    if size == 0:
        raise ValidationError("empty file (0 bytes)", code="empty", file=str(p))
    if size > limits.max_file_bytes:
        raise ValidationError(
            f"file too large: {size / 1e6:.1f} MB > limit {limits.max_file_bytes / 1e6:.1f} MB "
            "(raise it with --max-file-mb)",
            code="too_large", file=str(p),
        )
    return size


def check_joint_count(found: int, schema: JointSchema, file: str, frame: int | None = None) -> None:
    """Raise ``joint_count`` if a frame does not hold ``schema.size`` joints."""
    if found != schema.size:
        raise ValidationError(
            f"wrong joint count: {found} joints, the {schema.name} schema has {schema.size}",
            code="joint_count", file=file, frame=frame,
        )


# --- helpers ---------------------------------------------------------------------------------------
def _runs(mask: np.ndarray) -> np.ndarray:
    """[n, 2] start/end (exclusive) of the True runs of a 1-D boolean array."""
    m = np.concatenate(([False], mask.astype(bool), [False]))
    d = np.flatnonzero(m[1:] != m[:-1])
    return d.reshape(-1, 2)


def _ranges(idx: np.ndarray, limit: int = 6) -> str:
    """'3-5, 9, 12-20' from sorted frame indices (at most ``limit`` ranges shown)."""
    if len(idx) == 0:
        return ""
    idx = np.asarray(idx)
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    parts = [f"{s}" if s == e else f"{s}-{e}" for s, e in zip(starts, ends, strict=True)]
    more = f", ... ({len(parts) - limit} more)" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def bone_pairs(schema: JointSchema, present: np.ndarray | None = None) -> np.ndarray:
    """[B, 2] (joint, parent) pairs among present joints, climbing past absent parents."""
    present = np.ones(schema.size, bool) if present is None else present
    pairs = []
    for j, p in enumerate(schema.parents):
        if not present[j]:
            continue
        while p != -1 and not present[p]:
            p = schema.parents[p]
        if p != -1:
            pairs.append((j, p))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def median_bone_length(positions: np.ndarray, schema: JointSchema, present: np.ndarray | None = None) -> float:
    """Median bone length over frames and bones (same unit as ``positions``), NaN-robust."""
    pairs = bone_pairs(schema, present)
    if len(pairs) == 0 or positions.shape[0] == 0:
        return float("nan")
    step = max(1, positions.shape[0] // 2000)  # a subsample is plenty for a median
    sub = positions[::step]
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.linalg.norm(sub[:, pairs[:, 0]] - sub[:, pairs[:, 1]], axis=-1)
    d = d[np.isfinite(d) & (d > SUBNORMAL_MM) & (d < 1e12)]  # 1e12: overflow garbage only
    return float(np.median(d)) if d.size else float("nan")


# --- the validator ---------------------------------------------------------------------------------
@dataclass
class _Work:
    """A recording on its way through the steps of :func:`validate_recording`: per-frame arrays kept in
    step (``take`` slices them all), the present joints, and what was repaired."""

    pos: np.ndarray  # [T, J, 3] float64
    ts: np.ndarray  # [T] int64
    src: np.ndarray  # [T] index of each frame in the input
    conf: np.ndarray | None  # [T, J] uint8
    present: np.ndarray  # [J] bool
    schema: JointSchema
    file: str
    repairs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def take(self, sel) -> None:
        self.pos, self.ts, self.src = self.pos[sel], self.ts[sel], self.src[sel]
        self.conf = None if self.conf is None else self.conf[sel]


def validate_recording(raw: RawRecording, limits: Limits = DEFAULT_LIMITS) -> CleanRecording:
    """Check a raw recording, repair small damage, reject the rest (see the module docstring)."""
    w = _start(raw)
    _drop_out_of_order_frames(w, raw.timestamps_us)
    garbage, nan = _corrupt_values(w)
    _check_units(w, nan)
    bad_frame, garbage, nan, nan_joint = _mask_never_valid_joints(w, garbage, nan)
    bad_frame, garbage, nan, nan_joint = _trim_corrupt_edges(w, bad_frame, garbage, nan, nan_joint)
    missing, repaired, masked, tsec = _repair_missing_values(w, bad_frame, garbage, nan, nan_joint)
    repaired |= _repair_joint_jumps(w, tsec, missing)
    missing, masked, repaired, tsec = _drop_isolated_edge_frames(w, tsec, missing, masked, repaired)
    out_conf = _output_confidence(w, repaired, masked)
    _check_duration(w, out_conf, tsec, limits)
    return CleanRecording(
        positions=w.pos.astype(np.float32),
        confidence=out_conf,
        timestamps_us=w.ts.astype(np.int64),
        repaired=repaired,
        source_frames=w.src,
        repairs=w.repairs,
        warnings=w.warnings,
    )


def _start(raw: RawRecording) -> _Work:
    """The working copy: float64 positions, timestamps (nominal 30 Hz when the format has none)."""
    schema, file = raw.schema, raw.file
    pos = np.asarray(raw.positions, dtype=np.float64)
    n_frames = pos.shape[0] if pos.ndim == 3 else 0
    if n_frames == 0:
        raise ValidationError("empty recording: no frames", code="empty", file=file)
    check_joint_count(pos.shape[1], schema, file)
    present = np.ones(schema.size, bool) if raw.present is None else np.asarray(raw.present, bool).copy()
    conf = None if raw.confidence is None else np.asarray(raw.confidence, np.uint8)
    if raw.timestamps_us is None:
        ts = np.round(np.arange(n_frames) * (1e6 / FRAME_RATE_HZ)).astype(np.int64)
    else:
        ts = np.asarray(raw.timestamps_us, dtype=np.int64)
        if ts.shape != (n_frames,):
            raise ValidationError(f"{ts.shape[0]} timestamps for {n_frames} frames", code="parse_error", file=file)
    return _Work(pos, ts, np.arange(n_frames, dtype=np.int64), conf, present, schema, file)


def _drop_out_of_order_frames(w: _Work, given: np.ndarray | None) -> None:
    """Step 1: a few frames back in time or repeating a timestamp are dropped; many are rejected."""
    if given is None:
        return
    ts, n_frames = w.ts, len(w.ts)
    prev_max = np.maximum.accumulate(ts)
    back = np.zeros(n_frames, bool)
    back[1:] = ts[1:] < prev_max[:-1]
    if back.sum() > MAX_OUT_OF_ORDER_FRAMES:
        first = int(np.flatnonzero(back)[0])
        raise ValidationError(
            f"non-monotonic timestamps: {int(back.sum())} frames go back in time "
            f"(frame {first}: {ts[first]} us after {prev_max[first - 1]} us)",
            code="non_monotonic_timestamps", file=w.file, frame=first,
        )
    dup = np.zeros(n_frames, bool)
    dup[1:] = ts[1:] == prev_max[:-1]
    dup &= ~back
    if dup.sum() > MAX_DUPLICATE_FRACTION * n_frames:
        first = int(np.flatnonzero(dup)[0])
        raise ValidationError(
            f"duplicated timestamps: {int(dup.sum())} of {n_frames} frames repeat the previous timestamp",
            code="duplicate_timestamps", file=w.file, frame=first,
        )
    if back.any():
        w.repairs.append(f"dropped {int(back.sum())} out-of-order frame(s) ({_ranges(np.flatnonzero(back))})")
    if dup.any():
        w.repairs.append(f"dropped {int(dup.sum())} frame(s) with a duplicated timestamp ({_ranges(np.flatnonzero(dup))})")
    if (back | dup).any():
        w.take(~(back | dup))


def _corrupt_values(w: _Work) -> tuple[np.ndarray, np.ndarray]:
    """Step 2a: [T, J, 3] garbage (inf, beyond 10 m, subnormal) and NaN masks of the present joints."""
    with np.errstate(invalid="ignore"):
        absval = np.abs(w.pos)
        nan = np.isnan(w.pos)
        garbage = np.isinf(w.pos) | (absval > ABSURD_COORDINATE_MM) | ((absval < SUBNORMAL_MM) & (absval > 0))
    garbage &= w.present[None, :, None]
    nan &= w.present[None, :, None]
    return garbage, nan


def _check_units(w: _Work, nan: np.ndarray) -> None:
    """Step 2b, before judging values: numbers 1000x too large would otherwise all look "beyond 10 m"."""
    with np.errstate(invalid="ignore"):
        absval = np.abs(w.pos)
        finite_frame = ~(nan | np.isinf(w.pos) | ((absval < SUBNORMAL_MM) & (absval > 0))).any(axis=(1, 2))
    bone = median_bone_length(w.pos[finite_frame] if finite_frame.any() else w.pos, w.schema, w.present)
    if np.isfinite(bone) and bone < BONE_MM_METRES_SUSPECT:
        raise ValidationError(
            f"wrong units: median bone length {bone:.3g} mm is ~1000x too small; the values look like "
            "metres where millimetres were expected",
            code="wrong_units", file=w.file,
        )
    if np.isfinite(bone) and bone > BONE_MM_TOO_LARGE:
        raise ValidationError(
            f"wrong units: median bone length {bone / 1000:.3g} m is ~1000x too large; the values look like "
            "millimetres where metres were expected",
            code="wrong_units", file=w.file,
        )


def _mask_never_valid_joints(w: _Work, garbage: np.ndarray, nan: np.ndarray):
    """Step 2c: a joint never valid in any frame is absent, not damage. Returns the corrupt frames."""
    nan_joint = nan.any(axis=2)  # [T, J]
    never = w.present & (nan_joint | garbage.any(axis=2)).all(axis=0)
    if never.any():
        for j in np.flatnonzero(never):
            w.warnings.append(f"joint {w.schema.joints[j]} has no valid value in any frame: stored as missing")
        w.present &= ~never
        garbage &= w.present[None, :, None]
        nan_joint &= w.present[None, :]
    if not w.present.any():
        raise ValidationError("no joint has a valid value in any frame", code="non_finite", file=w.file)
    bad_frame = garbage.any(axis=(1, 2)) | nan_joint[:, w.present].all(axis=1)
    if bad_frame.all():
        _raise_value_error(garbage, nan, w.src, w.schema.joints, w.file, "every frame is corrupt")
    return bad_frame, garbage, nan, nan_joint


def _trim_corrupt_edges(w: _Work, bad_frame, garbage, nan, nan_joint):
    """Step 2d: corrupt frames at both ends are trimmed; too many inside are rejected."""
    good_idx = np.flatnonzero(~bad_frame)
    lo, hi = int(good_idx[0]), int(good_idx[-1]) + 1
    if lo > 0:
        w.repairs.append(f"trimmed {lo} corrupt leading frame(s) ({_ranges(w.src[:lo])}): {_what(w.pos[:lo], w.present)}")
    if hi < len(bad_frame):
        w.repairs.append(
            f"trimmed {len(bad_frame) - hi} corrupt trailing frame(s) ({_ranges(w.src[hi:])}): "
            f"{_what(w.pos[hi:], w.present)}"
        )
    sl = slice(lo, hi)
    w.take(sl)
    bad_frame, garbage, nan, nan_joint = bad_frame[sl], garbage[sl], nan[sl], nan_joint[sl]
    n = len(w.ts)
    if bad_frame.sum() > MAX_CORRUPT_FRAME_FRACTION * n:
        _raise_value_error(
            garbage, nan, w.src, w.schema.joints, w.file,
            f"{int(bad_frame.sum())} of {n} frames are corrupt (> {MAX_CORRUPT_FRAME_FRACTION:.0%})",
        )
    return bad_frame, garbage, nan, nan_joint


def _repair_missing_values(w: _Work, bad_frame, garbage, nan, nan_joint):
    """Step 2e: interior corrupt frames become missing values of every present joint; then per joint,
    short interior gaps are interpolated and the others masked. Returns (missing, repaired, masked, tsec)."""
    pos, present, names, src = w.pos, w.present, w.schema.joints, w.src
    n, n_joints = len(w.ts), w.schema.size
    missing = nan_joint.copy()
    missing[bad_frame] = present
    missing[:, ~present] = False
    pos[missing] = np.nan  # garbage never reaches the arithmetic below (interpolation, jump detection)
    n_missing = int(missing.sum())
    if n_missing > MAX_MISSING_FRACTION * n * int(present.sum()):
        _raise_value_error(
            garbage, nan, src, names, w.file,
            f"{n_missing / (n * int(present.sum())):.0%} of the joint values are missing or corrupt",
        )
    repaired = np.zeros((n, n_joints), bool)
    masked = np.zeros((n, n_joints), bool)
    if bad_frame.any():
        idx = np.flatnonzero(bad_frame)
        w.repairs.append(f"repaired {len(idx)} corrupt interior frame(s) ({_ranges(src[idx])}): {_what(pos[idx], present)}")
    tsec = (w.ts - w.ts[0]).astype(np.float64) / 1e6
    mask_msgs = []
    for j in np.flatnonzero(missing.any(axis=0)):
        fill = np.zeros(n, bool)
        for s, e in _runs(missing[:, j]):
            if s > 0 and e < n and e - s <= MAX_INTERPOLATE_FRAMES:
                fill[s:e] = True
            else:
                masked[s:e, j] = True
        if fill.any():
            bad = missing[:, j] & ~masked[:, j]
            x = pos[:, j, :]
            x[masked[:, j]] = 0.0
            good = ~missing[:, j]
            for a in range(3):
                x[bad, a] = np.interp(tsec[bad], tsec[good], x[good, a])
            repaired[fill, j] = True
        if masked[:, j].any() and not bad_frame[masked[:, j]].all():
            mask_msgs.append(f"{names[j]} ({_ranges(src[np.flatnonzero(masked[:, j])], 3)})")
    single_nan = missing & ~bad_frame[:, None]
    if single_nan.any():
        w.repairs.append(
            f"{int(single_nan.sum())} missing (NaN) joint value(s) in {int(single_nan.any(axis=1).sum())} frame(s): "
            + ("interpolated" if not mask_msgs else f"short gaps interpolated, long gaps masked: {'; '.join(mask_msgs[:5])}")
        )
    return missing, repaired | masked, masked, tsec


def _repair_joint_jumps(w: _Work, tsec: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Step 3: single-frame joint jumps are interpolated; many are rejected. Returns the [T, J] spikes."""
    pos, present, names, n = w.pos, w.present, w.schema.joints, len(w.ts)
    spikes = _find_spikes(pos, tsec, ~missing & present[None, :])
    if spikes.sum() > MAX_JUMP_FRACTION * n * int(present.sum()):
        t0, j0 = np.argwhere(spikes)[0]
        raise ValidationError(
            f"tracking jumps: {int(spikes.sum())} joint values ({spikes.sum() / (n * present.sum()):.0%}) jump away "
            "and back between consecutive frames (two people interleaved, or tracking lost)",
            code="tracking_jumps", file=w.file, frame=int(w.src[t0]), joint=names[j0],
        )
    if spikes.any():
        jf = np.argwhere(spikes)
        examples = ", ".join(f"{names[j]} frame {w.src[t]}" for t, j in jf[:4])
        more = f", ... ({len(jf) - 4} more)" if len(jf) > 4 else ""
        w.repairs.append(f"interpolated {len(jf)} single-frame joint jump(s) ({examples}{more})")
        for j in np.unique(jf[:, 1]):
            bad = spikes[:, j]
            good = ~bad & ~missing[:, j]
            for a in range(3):
                pos[bad, j, a] = np.interp(tsec[bad], tsec[good], pos[good, j, a])
    return spikes


def _drop_isolated_edge_frames(w: _Work, tsec, missing, masked, repaired):
    """Step 4: a few frames cut off from the rest by a long gap at either end are dropped."""
    n = len(w.ts)
    if n <= 2 * MAX_EDGE_SEGMENT_FRAMES:
        return missing, masked, repaired, tsec
    dts = np.diff(tsec)
    head = np.flatnonzero(dts[:MAX_EDGE_SEGMENT_FRAMES] > EDGE_GAP_SECONDS)
    tail = np.flatnonzero(dts[-MAX_EDGE_SEGMENT_FRAMES:] > EDGE_GAP_SECONDS)
    lo = int(head[-1]) + 1 if head.size else 0
    # dts[-M:] are the gaps after frames n-1-M .. n-2; frames after the first long one are isolated
    hi = (n - 1 - MAX_EDGE_SEGMENT_FRAMES) + int(tail[0]) + 1 if tail.size else n
    if lo:
        w.repairs.append(f"dropped {lo} isolated leading frame(s) before a {dts[lo - 1]:.2f} s gap")
    if hi < n:
        w.repairs.append(f"dropped {n - hi} isolated trailing frame(s) after a {dts[hi - 1]:.2f} s gap")
    if not lo and hi == n:
        return missing, masked, repaired, tsec
    sl = slice(lo, hi)
    w.take(sl)
    return missing[sl], masked[sl], repaired[sl], tsec[sl]


def _output_confidence(w: _Work, repaired: np.ndarray, masked: np.ndarray) -> np.ndarray:
    """Step 5: interpolated values get LOW (a prediction, like an occluded joint); masked and absent
    joints NONE with position 0."""
    n = len(w.ts)
    out = np.full((n, w.schema.size), int(Confidence.MEDIUM), np.uint8) if w.conf is None else w.conf.copy()
    out[:, ~w.present] = Confidence.NONE
    out[repaired & ~masked] = Confidence.LOW
    out[masked] = Confidence.NONE
    w.pos[out == Confidence.NONE] = 0.0
    return out


def _check_duration(w: _Work, out_conf: np.ndarray, tsec: np.ndarray, limits: Limits) -> None:
    """Step 6: enough usable seconds, and not longer than the limit."""
    usable_frames = int((out_conf[:, w.present] > 0).any(axis=1).sum())
    period = frame_period_s(tsec)
    usable_s = usable_frames * period
    if usable_s < limits.min_usable_s:
        raise ValidationError(
            f"too short: {usable_s:.2f} s of usable frames ({usable_frames} frames at {1 / period:.1f} Hz), "
            f"need at least {limits.min_usable_s:g} s",
            code="too_short", file=w.file,
        )
    duration = float(tsec[-1] - tsec[0]) + period
    if duration > limits.max_duration_s:
        raise ValidationError(
            f"too large: {duration / 60:.1f} min > limit {limits.max_duration_s / 60:.1f} min "
            "(raise it with --max-minutes)",
            code="too_large", file=w.file,
        )


def frame_period_s(tsec: np.ndarray) -> float:
    """Typical frame period (s): mean of the steps within 0.5-1.5x the median (ignores gaps and
    millisecond rounding of timestamps such as 0.033/0.034)."""
    if len(tsec) < 2:
        return 1.0 / FRAME_RATE_HZ
    dt = np.diff(tsec)
    med = float(np.median(dt))
    if med <= 0:
        return 1.0 / FRAME_RATE_HZ
    typical = dt[(dt > 0.5 * med) & (dt < 1.5 * med)]
    return float(typical.mean()) if typical.size else med


def _what(pos: np.ndarray, present: np.ndarray) -> str:
    """Words for what is wrong in some frames ([n, J, 3] positions): NaN, inf, beyond 10 m, uninitialised."""
    v = pos[:, present]
    with np.errstate(invalid="ignore"):
        a = np.abs(v)
        kinds = [
            ("NaN", np.isnan(v).any()),
            ("inf", np.isinf(v).any()),
            ("beyond 10 m", (np.isfinite(v) & (a > ABSURD_COORDINATE_MM)).any()),
            ("uninitialised (subnormal) values", ((a < SUBNORMAL_MM) & (a > 0)).any()),
        ]
    return ", ".join(k for k, hit in kinds if hit) or "no valid joint"


def _raise_value_error(garbage, nan, src, names, file, reason) -> None:
    """Reject for corrupt values, naming the first bad frame and joint."""
    bad = garbage.any(axis=2) | nan.any(axis=2)
    if not bad.any():
        raise ValidationError(reason, code="non_finite", file=file)
    t, j = np.argwhere(bad)[0]
    is_garbage = bool(garbage[t, j].any())
    code = "absurd_coordinates" if is_garbage else "non_finite"
    what = "coordinate beyond 10 m, inf or uninitialised" if is_garbage else "NaN"
    raise ValidationError(f"{reason}; first bad value: {what}", code=code, file=file,
                          frame=int(src[t]), joint=names[j])


def _find_spikes(pos: np.ndarray, tsec: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """[T, J] joints that jump away in one frame and come back the next (tracking glitch)."""
    n = pos.shape[0]
    out = np.zeros(valid.shape, bool)
    if n < 3:
        return out
    dt = np.diff(tsec)  # [T-1]
    d = np.linalg.norm(np.diff(pos, axis=0), axis=2)  # [T-1, J] displacement between consecutive frames
    thr = np.maximum(MIN_JUMP_MM, MAX_JOINT_SPEED_MM_S * dt)[:, None]
    jump = d > thr
    back = np.linalg.norm(pos[2:] - pos[:-2], axis=2)  # [T-2, J]
    thr2 = np.maximum(MIN_JUMP_MM, MAX_JOINT_SPEED_MM_S * (dt[:-1] + dt[1:]))[:, None]
    spike = jump[:-1] & jump[1:] & (back < np.minimum(d[:-1], d[1:]) * 0.5) & (back < thr2)
    spike &= valid[1:-1] & valid[:-2] & valid[2:]
    out[1:-1] = spike
    return out
