"""Engineered gait features (the paper's baseline plus what a clinician expects).

Public API::

    from gaitcore.features import compute_task_features, FEATURES
    fs = compute_task_features(session, task="treadmill_3kmh")
    fs.values   # {feature: float}, NaN-free: only features that were computed
    fs.missing  # {feature: reason} for every catalogue feature of the task that could not be computed

Features are computed on the preprocessed metric body frame (gaitcore.preprocess): millimetres,
x forward, y left, z up, 30 Hz. Which features apply to which task is data (``FEATURES``, see
catalogue.py and docs/features.md); features of other tasks are neither in ``values`` nor in
``missing``. A feature that cannot be computed is missing with a reason, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..preprocess import PREPROCESSING_VERSION, Preprocessed, preprocess
from ..schemas import TASKS
from ..sessionfile import Session
from . import body, gait
from .catalogue import BY_NAME, FEATURE_NAMES, FEATURES, FeatureSpec, render_markdown
from .events import detect_events

FEATURES_VERSION = "gaitcore.features/1.0"
DEFAULT_TASK = "overground_walk"

__all__ = ["FEATURES", "FEATURE_NAMES", "FeatureSet", "FeatureSpec", "compute_task_features",
           "compute_features", "compute_session_features", "features_for_task", "render_markdown", "FEATURES_VERSION"]


@dataclass
class FeatureSet:
    """Features of one task of one session."""

    task: str
    values: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    version: str = FEATURES_VERSION
    preprocessing_version: str = PREPROCESSING_VERSION


def features_for_task(task: str) -> list[str]:
    """Names of the catalogue features that apply to ``task``."""
    return [f.name for f in FEATURES if task in f.tasks]


def _resolve_task(session: Session, task: str | None) -> tuple[str, bool]:
    """(task name, whether the session has a segment of that name)."""
    names = [s.task for s in session.tasks]
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
        return task, task in names
    if len(names) == 1:
        return names[0], True
    if not names:
        t = session.metadata.get("task")
        return (t if t in TASKS else DEFAULT_TASK), False
    raise ValueError(f"session has several tasks {names}: pass task=")


def compute_task_features(session: Session, task: str | None = None) -> FeatureSet:
    """Preprocess ``session`` and compute the features of one task.

    ``task`` None: the session's only task; a session without task segments is treated as a whole
    recording of ``metadata['task']`` (default ``overground_walk``, noted in ``details``).
    """
    name, has = _resolve_task(session, task)
    sub = session.task(name) if has else session
    pre = preprocess(sub)
    fs = compute_features(pre, name)
    if not has:
        fs.details["task_assumed"] = f"no task segment: whole recording treated as {name}"
    return fs


def compute_session_features(session: Session) -> list[FeatureSet]:
    """Features of every task of a session, preprocessing it once (one FeatureSet per task segment;
    a session without segments gives one set, as in ``compute_task_features(session)``)."""
    if not session.tasks:
        return [compute_task_features(session)]
    pre = preprocess(session)
    return [compute_features(pre, seg.task, seg.start, seg.end) for seg in pre.tasks]


def compute_features(pre: Preprocessed, task: str, start: int | None = None, end: int | None = None
                     ) -> FeatureSet:
    """Features of ``task`` from a preprocessed recording (frames [start, end) or the task's segment,
    or the whole recording when the task has no segment)."""
    if start is None or end is None:
        try:
            start, end = pre.task_range(task)
        except KeyError:
            start, end = 0, pre.n_frames
    pos = pre.positions[start:end]
    fset = FeatureSet(task)
    want = {n: True for n in features_for_task(task)}
    values: dict[str, float] = {}
    missing: dict[str, str] = {}
    details = fset.details
    details["frames"] = int(end - start)
    details["tracked_fraction"] = round(float(pre.valid[start:end].any(axis=1).mean()) if end > start else 0.0, 4)
    if end - start < pre.fs:
        for n in want:
            missing[n] = f"task has {end - start} frames (< 1 s)"
        fset.missing = missing
        return fset
    fs_hz = pre.fs
    fr = pre.frames.get(task)
    if fr is not None and fr.warnings:
        details["warnings"] = list(fr.warnings)
    if want.get("cadence_steps_min"):
        ev = detect_events(pos, fs_hz)
        gait.temporal(ev, fs_hz, values, missing, details)
        if want.get("step_length_m"):
            gait.spatial(pos, ev, values, missing, details, fs_hz, task in gait.TREADMILL_TASKS,
                             gait.belt_speed(task, pre.metadata))
        if want.get("walking_speed_m_s"):
            gait.walking_speed(pos, fs_hz, task, pre.metadata, values, missing, details)
    body.upper_body(pos, fs_hz, want, values, missing)
    if want.get("hip_rom_left_deg"):
        body.joint_rom(pos, values, missing)
    if want.get("romberg_sway_path_mm"):
        body.romberg(pos, fs_hz, values, missing)
    if want.get("sts_repetitions"):
        body.sit_to_stand(pos, fs_hz, values, missing)
    if want.get("leg_length_mm"):
        body.body_size(pos, values, missing)
    # contract: values NaN-free and only for this task's features; everything else missing with a reason
    for n in list(values):
        v = values[n]
        if n not in want:
            del values[n]
        elif v is None or not np.isfinite(v):
            del values[n]
            missing.setdefault(n, "could not be computed from the tracked data")
        else:
            values[n] = float(v)
    for n in want:
        if n not in values and n not in missing:
            missing[n] = "could not be computed from the tracked data"
    fset.values = {n: values[n] for n in FEATURE_NAMES if n in values}
    fset.missing = {n: missing[n] for n in FEATURE_NAMES if n in missing and n in want}
    return fset


assert len(FEATURES) >= 20 and all(isinstance(f, FeatureSpec) for f in FEATURES) and BY_NAME
