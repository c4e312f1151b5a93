"""Step 4: the paper's 3-frame temporal median filter.

Each coordinate of each joint is replaced by the median of itself and its two temporal neighbours
(where all three are valid; edges and frames next to masked ones are kept as they are).
"""

from __future__ import annotations

import numpy as np


def median3(positions: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """3-frame median filter along time.

    Args:
        positions: [T, J, 3] float. valid: optional [T, J] bool.
    Returns:
        filtered [T, J, 3] (same dtype).
    """
    T = positions.shape[0]
    if T < 3:
        return positions.copy()
    a, b, c = positions[:-2], positions[1:-1], positions[2:]
    med = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    out = positions.copy()
    if valid is None:
        out[1:-1] = med
    else:
        ok = (valid[:-2] & valid[1:-1] & valid[2:])[..., None]
        out[1:-1] = np.where(ok, med, b)
    return out
