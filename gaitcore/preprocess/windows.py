"""Step 7: model windows.

Windows are non-overlapping runs of ``length`` frames (900 = 30 s at 30 Hz, as in the paper) taken
inside one task segment (a window never crosses a task boundary), starting at the segment start.

Policy for the last partial window of a segment: it is kept if it holds at least ``min_last`` frames
(default ``length // 3`` = 10 s) and is then zero-padded to ``length`` (padding frames are masked:
zero positions and zero confidence, ``mask`` False); shorter remainders are dropped. So a 30 s task
recorded as 899 frames still gives one window, and a 3 min treadmill task gives 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_WINDOW = 900


@dataclass(frozen=True)
class Window:
    """Frames [start, start + n_valid) of task ``task``; the window is padded to the full length."""

    task: str
    start: int
    n_valid: int


def make_windows(segments: list[tuple[str, int, int]], length: int = DEFAULT_WINDOW,
                 min_last: int | None = None) -> list[Window]:
    """Windows for (task, start, end) segments. See the module docstring for the policy."""
    if min_last is None:
        min_last = max(length // 3, 1)
    out = []
    for task, s, e in segments:
        pos = s
        while e - pos >= length:
            out.append(Window(task, pos, length))
            pos += length
        if e - pos >= min_last and e - pos > 0:
            out.append(Window(task, pos, e - pos))
    return out


def stack_windows(x: np.ndarray, mask: np.ndarray, windows: list[Window], length: int = DEFAULT_WINDOW
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Stack windows of model input x [T, 26, 4] and mask [T, 26] into [W, L, 26, 4] and [W, L, 26]."""
    W = len(windows)
    xs = np.zeros((W, length) + x.shape[1:], dtype=np.float32)
    ms = np.zeros((W, length) + mask.shape[1:], dtype=bool)
    for i, w in enumerate(windows):
        xs[i, : w.n_valid] = x[w.start : w.start + w.n_valid]
        ms[i, : w.n_valid] = mask[w.start : w.start + w.n_valid]
    return xs, ms
