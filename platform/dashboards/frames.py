"""A session's skeleton as JSON for the in-browser replay: the 26 model joints (no hand joints), bones,
per frame positions in metres in a body-centred frame with z up, downsampled to at most ``max_frames``."""

from __future__ import annotations

import numpy as np


def session_frames(data: bytes, name: str, task: str | None = None, max_frames: int = 450) -> dict:
    from gaitcore.schemas import MODEL26, MODEL26_FROM_AZURE
    from gaitcore.sessionfile import from_bytes

    session = from_bytes(data, name=name)
    tasks = [t.task for t in session.tasks]
    seg = next((t for t in session.tasks if t.task == task), None) or (session.tasks[0] if session.tasks else None)
    start, end = (seg.start, seg.end) if seg else (0, session.n_frames)
    idx = list(MODEL26_FROM_AZURE)
    pos = session.positions[start:end][:, idx, :].astype(float)  # mm, camera space
    conf = session.confidence[start:end][:, idx]
    step = max(1, int(np.ceil(len(pos) / max_frames)))
    pos, conf = pos[::step], conf[::step]
    valid = conf > 0
    # vertical: the axis along which head - pelvis points on average; centre on the pelvis's mean
    up_vec = np.nanmean(np.where(valid[:, [20], None] & valid[:, [0], None], pos[:, [20]] - pos[:, [0]], np.nan), axis=(0, 1))
    axis = int(np.nanargmax(np.abs(up_vec))) if np.isfinite(up_vec).all() else 1
    sign = float(np.sign(up_vec[axis])) if np.isfinite(up_vec).all() else 1.0
    centre = np.nanmean(np.where(valid[:, :1, None], pos[:, :1], np.nan), axis=(0, 1))
    centre = np.where(np.isfinite(centre), centre, 0.0)
    rel = (pos - centre) / 1000.0
    others = [a for a in range(3) if a != axis]
    out = np.stack([rel[..., others[0]], rel[..., others[1]], sign * rel[..., axis]], axis=-1)
    out[~valid] = np.nan
    parents = list(MODEL26.parents)
    frames = [[None if not np.isfinite(v).all() else [round(float(c), 3) for c in v] for v in f] for f in out]
    return {"task": seg.task if seg else "", "tasks": tasks, "fps": 30.0 / step, "joints": list(MODEL26.joints),
            "bones": [[j, p] for j, p in enumerate(parents) if p >= 0], "frames": frames}

