"""The naive baseline: per-joint position statistics of the normalised skeleton.

For each task segment of a session, the model input of the preprocessing (pelvis-centred, scaled per
frame by the furthest joint's distance, MODEL26 joints, body frame x forward / y left / z up) is
summarised by the mean and standard deviation over valid frames of each joint's x, y and z:
26 joints x 3 axes x 2 statistics = 156 numbers. No gait events, no model: it tells how much of a
target is predictable from posture and gross movement amplitude alone. Imports numpy only (the
preprocessing is numpy too).
"""

from __future__ import annotations

import numpy as np

from ..schemas import MODEL26

STATS = ("mean", "sd")
AXES = ("x", "y", "z")
NAIVE_COLUMNS = [f"{j}_{a}_{s}" for j in MODEL26.joints for a in AXES for s in STATS]


def naive_stats(model_input: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[156]`` statistics from ``model_input [T, 26, >=3]`` and ``mask [T, 26]`` (NaN where a joint is
    never valid)."""
    x = np.asarray(model_input, dtype=np.float64)[..., :3]
    m = np.asarray(mask, bool)[..., None]
    n = m.sum(axis=0)  # [26, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(m, x, 0.0).sum(axis=0) / n
        var = np.where(m, (x - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n - 1, 1)
    mean = np.where(n > 0, mean, np.nan)
    sd = np.where(n > 1, np.sqrt(var), np.nan)
    return np.stack([mean, sd], axis=-1).reshape(-1)  # joint, axis, stat order = NAIVE_COLUMNS


def session_naive_rows(session, tasks: list[str] | None = None) -> list[tuple[str, np.ndarray]]:
    """``(task, stats)`` per task segment of a session (whole recording as task ``""`` if it has none)."""
    from ..preprocess import preprocess

    pre = preprocess(session)
    segs = [(s.task, s.start, s.end) for s in pre.tasks] or [(session.metadata.get("task", ""), 0, pre.n_frames)]
    out = []
    for task, a, b in segs:
        if tasks and task not in tasks:
            continue
        out.append((task, naive_stats(pre.model_input[a:b], pre.mask[a:b])))
    return out
