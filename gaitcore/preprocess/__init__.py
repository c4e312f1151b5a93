"""Preprocessing: raw session (sensor space, any frame rate) -> metric body-frame positions and model input.

Entry point: :func:`preprocess` (returns :class:`Preprocessed`); model windows per task:
:func:`model_windows`. Steps, in order (each a small function in its own module, each tested):

1. ``outliers.invalid_values`` - NaN/inf, > 10 m, confidence NONE -> invalid.
2. ``resample.resample`` - to 30 Hz from the timestamps (no-op when already regular).
3. ``outliers.velocity_spikes`` (1-frame teleports faster than 10 m/s), ``outliers.leg_swaps`` +
   ``unswap_legs`` (left/right legs exchanged by the tracker: swapped back), ``outliers.bone_outliers``
   (bone length off its median by > 40 % and > 60 mm) -> invalid.
4. ``gaps.fill_gaps`` - gaps <= 10 frames (1/3 s) interpolated (confidence LOW), longer ones masked.
5. ``filters.median3`` - the paper's 3-frame temporal median filter.
6. ``axes.find_body_frame`` / ``axes.to_body`` per task segment - vertical and facing direction found
   from the data; mirrored left/right labels detected and fixed; rotation into the body frame
   (x forward, y left, z up, mm, z = 0 at the lowest foot level).
7. ``normalise.normalise`` - per-frame pelvis centring, per-frame scaling by the furthest joint's
   distance from the pelvis, confidence / per-frame maximum -> model input [T, 26, 4] (MODEL26 order).
8. ``windows.make_windows`` - non-overlapping 900-frame windows per task (policy in windows.py).

Every output carries ``PREPROCESSING_VERSION``; bump it whenever any step's output can change.
Only numpy is used (no scipy, no torch, no Django).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..schemas import AZURE32, FRAME_RATE_HZ, Confidence
from ..sessionfile import Session, TaskSegment
from .axes import MIRROR_PERM, BodyFrame, find_body_frame, to_body
from .filters import median3
from .gaps import DEFAULT_MAX_GAP_FRAMES, fill_gaps
from .normalise import denormalise_error, normalise
from .outliers import bone_outliers, invalid_values, leg_swaps, unswap_legs, velocity_spikes
from .resample import resample
from .windows import DEFAULT_WINDOW, Window, make_windows, stack_windows

PREPROCESSING_VERSION = "gaitcore.preprocess/1.1"  # 1.1: task segments exclude the pauses between tasks

__all__ = [
    "PREPROCESSING_VERSION", "Preprocessed", "preprocess", "model_windows", "model_windows_by_task",
    "Window", "BodyFrame",
    "denormalise_error",
]


@dataclass
class Preprocessed:
    """Output of :func:`preprocess`.

    Attributes:
        positions: [T, 32, 3] float32, mm, body frame (x forward, y left, z up), AZURE32 order, NaN where
            masked. For features and for reporting errors in mm.
        valid: [T, 32] bool, True where ``positions`` holds real (or gap-filled) data.
        confidence: [T, 32] uint8 after processing (gap-filled samples LOW, masked NONE).
        model_input: [T, 26, 4] float32 (x, y, z, confidence) normalised, MODEL26 order, zeros where masked.
        mask: [T, 26] bool, True where ``model_input`` holds real data.
        scale_mm: [T] float32 per-frame normalisation scale (mm per normalised unit).
        timestamps_us: [T] int64 on the regular 30 Hz grid.
        tasks: task segments re-indexed to the resampled frames.
        windows: model windows (see windows.py for the policy).
        frames: body frame found per task segment (key: task name, or "" for frames outside tasks).
        record: per-step record of what was found and repaired.
        repairs: human-readable list of the repairs made.
        version: ``PREPROCESSING_VERSION``.
    """

    positions: np.ndarray
    valid: np.ndarray
    confidence: np.ndarray
    model_input: np.ndarray
    mask: np.ndarray
    scale_mm: np.ndarray
    timestamps_us: np.ndarray
    tasks: list[TaskSegment]
    windows: list[Window]
    frames: dict[str, BodyFrame]
    record: dict[str, Any]
    repairs: list[str]
    version: str = PREPROCESSING_VERSION
    fs: float = FRAME_RATE_HZ
    window_length: int = DEFAULT_WINDOW
    session_id: str = ""
    subject: str = ""
    sensor: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])

    def task_range(self, task: str | None) -> tuple[int, int]:
        """Frame range [start, end) of ``task`` (whole recording when None)."""
        if task is None:
            return 0, self.n_frames
        for s in self.tasks:
            if s.task == task:
                return s.start, s.end
        raise KeyError(f"no task {task!r}; tasks: {[s.task for s in self.tasks]}")


def _remap_segments(tasks: list[TaskSegment], source_us: np.ndarray, grid_us: np.ndarray,
                    rate_hz: float) -> list[TaskSegment]:
    """Task segments on the resampled grid: the grid frames within half a frame period of the task's own
    first and last recorded frames. A pause between two tasks (a timestamp gap, masked on the grid)
    belongs to neither, so its frames never count towards a task's windows."""
    half = 0.5e6 / rate_hz
    out, prev_end = [], 0
    for s in sorted(tasks, key=lambda t: t.start):
        if s.end <= s.start:
            continue
        a = int(np.searchsorted(grid_us, source_us[s.start] - half, side="left"))
        b = int(np.searchsorted(grid_us, source_us[s.end - 1] + half, side="left"))
        a = max(a, prev_end)
        if b > a:
            out.append(TaskSegment(s.task, a, b))
            prev_end = b
    return out


def _chunks(tasks: list[TaskSegment], T: int) -> list[tuple[str, int, int]]:
    """Task segments plus the uncovered stretches (named "") so every frame gets a body frame."""
    segs = sorted((s.start, s.end, s.task) for s in tasks)
    out, pos = [], 0
    for a, b, name in segs:
        a = max(a, pos)
        if a > pos:
            out.append(("", pos, a))
        if b > a:
            out.append((name, a, b))
        pos = max(pos, b)
    if pos < T:
        out.append(("", pos, T))
    return out


def preprocess(
    session: Session,
    *,
    rate_hz: float = FRAME_RATE_HZ,
    max_gap: int = DEFAULT_MAX_GAP_FRAMES,
    window: int = DEFAULT_WINDOW,
    min_last: int | None = None,
    check_mirror: bool = True,
) -> Preprocessed:
    """Run the whole preprocessing chain on a session (see the module docstring)."""
    record: dict[str, Any] = {"version": PREPROCESSING_VERSION}
    repairs: list[str] = []
    P = session.positions.astype(np.float32, copy=True)
    conf = session.confidence.copy()

    bad = invalid_values(P, conf)
    record["invalid_values"] = {"samples": int(np.count_nonzero(bad & (conf > 0)))}
    valid = ~bad
    P[bad] = 0.0

    P, valid, conf, ts, _src, rec = resample(P, valid, conf, session.timestamps_us, rate_hz)
    record["resample"] = rec
    if rec["resampled"]:
        repairs.append(f"resampled {rec['frames_in']} frames to {rec['frames_out']} at {rate_hz:g} Hz")
    tasks = (_remap_segments(session.tasks, np.asarray(session.timestamps_us), ts, rate_hz)
             if rec["resampled"] else list(session.tasks))

    P, valid, conf, bone_med = _remove_outliers(P, valid, conf, rate_hz, record, repairs)
    P, valid, conf = _fill_and_smooth(P, valid, conf, max_gap, record, repairs)
    body, valid, conf, frames = _to_body_frames(P, valid, conf, tasks, rate_hz, check_mirror, record, repairs)

    x, mask, scale = normalise(np.nan_to_num(body), valid, conf)
    record["normalise"] = {"frames_without_pelvis": int((scale == 0).sum())}
    segs = [(s.task, s.start, s.end) for s in tasks] or [("", 0, P.shape[0])]
    wins = make_windows(segs, window, min_last)
    record["windows"] = {"length": window, "min_last": min_last if min_last is not None else window // 3,
                         "count": len(wins)}
    record["bone_length_median_mm"] = {
        name: round(float(v), 1) for name, v in zip(AZURE32.joints, bone_med, strict=True) if np.isfinite(v)
    }
    return Preprocessed(
        positions=body, valid=valid, confidence=conf, model_input=x, mask=mask, scale_mm=scale,
        timestamps_us=ts, tasks=tasks, windows=wins, frames=frames, record=record, repairs=repairs,
        fs=rate_hz, window_length=window, session_id=session.session_id, subject=session.subject,
        sensor=session.sensor, metadata=dict(session.metadata),
    )


def _remove_outliers(P, valid, conf, rate_hz: float, record: dict, repairs: list[str]):
    """Mask velocity spikes and joints with inconsistent bone lengths; swap left/right legs back where the
    tracker exchanged them. Returns (P, valid, conf, the median bone lengths)."""
    spikes = velocity_spikes(P, valid, rate_hz)
    valid &= ~spikes
    swapped = leg_swaps(P, valid)
    P, valid, conf = unswap_legs(P, valid, conf, swapped)
    bone_bad, bone_med = bone_outliers(P, valid)
    valid &= ~bone_bad
    n_sp, n_sw, n_bb = int(spikes.sum()), int(swapped.sum()), int(bone_bad.sum())
    record["outliers"] = {"velocity_spike_samples": n_sp, "leg_swap_frames": n_sw, "bone_length_samples": n_bb}
    if n_sp:
        repairs.append(f"removed {n_sp} velocity spikes (> 10 m/s)")
    if n_sw:
        repairs.append(f"swapped left/right legs back on {n_sw} frames")
    if n_bb:
        repairs.append(f"removed {n_bb} joint samples with inconsistent bone lengths")
    return P, valid, conf, bone_med


def _fill_and_smooth(P, valid, conf, max_gap: int, record: dict, repairs: list[str]):
    """Fill short gaps, median-filter, and grade confidence (filled samples LOW, masked ones 0)."""
    P, valid, filled = fill_gaps(P, valid, max_gap)
    n_f = int(filled.sum())
    record["gaps"] = {"max_gap_frames": max_gap, "filled_samples": n_f,
                      "masked_samples": int((~valid).sum())}
    if n_f:
        repairs.append(f"filled {n_f} joint samples in gaps of <= {max_gap} frames")

    P = median3(P, valid)
    record["median_filter"] = {"frames": 3}
    conf = np.where(valid, np.where(filled, np.uint8(Confidence.LOW), np.maximum(conf, 1)), 0).astype(np.uint8)
    return P, valid, conf


def _to_body_frames(P, valid, conf, tasks, rate_hz: float, check_mirror: bool, record: dict, repairs: list[str]):
    """Positions in each task's body frame (NaN where masked); mirrored labels are swapped back, a part
    whose facing direction cannot be found is masked. Returns (body, valid, conf, {task: BodyFrame})."""
    Pn = np.where(valid[..., None], P, np.nan).astype(np.float32)
    body = np.full_like(Pn, np.nan)
    frames: dict[str, BodyFrame] = {}
    frame_rec: dict[str, Any] = {}
    for name, a, b in _chunks(tasks, P.shape[0]):
        if not name and not valid[a:b].any():
            continue  # a pause between tasks: nothing recorded, nothing to orient
        try:
            fr, fixed = find_body_frame(Pn[a:b], rate_hz, check_mirror=check_mirror)
        except ValueError as exc:
            valid[a:b] = False
            frame_rec[name or "(outside tasks)"] = {"error": str(exc)}
            repairs.append(f"masked frames {a}-{b}: {exc}")
            continue
        if fr.mirrored:
            valid[a:b] = valid[a:b][:, MIRROR_PERM]
            conf[a:b] = conf[a:b][:, MIRROR_PERM]
            repairs.append(f"left/right labels mirrored relative to body geometry in "
                           f"{name or 'recording'}: swapped")
        body[a:b] = to_body(fixed, fr)
        if name not in frames:
            frames[name] = fr
        frame_rec[name or "(outside tasks)"] = fr.record()
    record["body_frame"] = frame_rec
    body = np.where(valid[..., None], body, np.nan).astype(np.float32)
    conf[~valid] = 0
    return body, valid, conf, frames


def model_windows(pre: Preprocessed, task: str | None = None) -> tuple[np.ndarray, np.ndarray, list[Window]]:
    """Model windows of one task (all windows when None).

    Returns (x [W, L, 26, 4] float32, mask [W, L, 26] bool, windows). Padding frames are zero/masked.
    """
    wins = [w for w in pre.windows if task is None or w.task == task]
    xs, ms = stack_windows(pre.model_input, pre.mask, wins, pre.window_length)
    return xs, ms, wins


def model_windows_by_task(pre: Preprocessed) -> dict[str, tuple[np.ndarray, np.ndarray, list[Window]]]:
    """{task: (x [W, L, 26, 4], mask [W, L, 26], windows)} for every task that has windows."""
    names = list(dict.fromkeys(w.task for w in pre.windows))
    return {t: model_windows(pre, t) for t in names}
