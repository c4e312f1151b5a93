"""Small valid session files for upload tests and scripts (no Django needed)."""

from __future__ import annotations

import hashlib

import numpy as np


def session_file_bytes(n_frames: int = 90, subject: str = "S-1", seed: int = 0, tasks=("walk_in_place",)) -> bytes:
    """A small valid ``.gait.npz`` session file (random but well-formed skeletons)."""
    from gaitcore.schemas import TASKS
    from gaitcore.sessionfile import Session, TaskSegment, to_bytes

    tasks = [t if t in TASKS else TASKS[0] for t in tasks]
    rng = np.random.default_rng(seed)
    positions = rng.normal(0, 300, size=(n_frames, 32, 3)).astype(np.float32)
    positions[:, :, 2] += 2500
    confidence = np.full((n_frames, 32), 2, dtype=np.uint8)
    ts = (np.arange(n_frames, dtype=np.int64) * 33_333)
    per = n_frames // len(tasks)
    segs = [TaskSegment(t, i * per, (i + 1) * per) for i, t in enumerate(tasks)]
    return to_bytes(Session(positions, confidence, ts, subject=subject, sensor="synthetic", tasks=segs))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
