"""Step 2: remove tracking outliers.

Four checks, each vectorised over frames and joints, each returning a boolean [T, J] of rejected
samples (rejected samples become invalid; the gap step fills or masks them):

* ``invalid_values``: NaN / inf, |coordinate| > 10 m, confidence NONE, exact zeros.
* ``velocity_spikes``: a joint that jumps away by more than ``max_speed`` (mm/s) and comes back
  (or keeps going) faster than that in the next frame, i.e. a 1-frame teleport.
* ``bone_outliers``: per frame, the length of each bone (joint to parent) compared with the bone's
  median length over the recording; a joint is rejected when its bone to its parent deviates by more
  than ``rel_tol`` (and at least ``abs_tol`` mm) and so does a bone to one of its children (or it is a
  leaf) -- the joint, not its neighbours, is then the culprit.
* ``leg_swaps``: frames where the tracker exchanged the left and right legs; detected from frame-to-
  frame continuity (the swapped assignment fits the previous frame much better) and fixed by swapping
  the legs back (this is a repair, not a rejection).
"""

from __future__ import annotations

import numpy as np

from ..schemas import AZURE32
from ._fast import norm3, sqnorm3

_PARENTS = np.array(AZURE32.parents)
_BONES = np.array([j for j in range(AZURE32.size) if _PARENTS[j] >= 0])
_J = {n: i for i, n in enumerate(AZURE32.joints)}
LEFT_LEG = np.array([_J[n] for n in ("HIP_LEFT", "KNEE_LEFT", "ANKLE_LEFT", "FOOT_LEFT")])
RIGHT_LEG = np.array([_J[n] for n in ("HIP_RIGHT", "KNEE_RIGHT", "ANKLE_RIGHT", "FOOT_RIGHT")])
_SWAP_JOINTS = np.array([1, 2, 3])  # knee, ankle, foot inside the leg arrays

# child incidence: C[c, p] = 1 when p is the parent of c
_CHILD = np.zeros((AZURE32.size, AZURE32.size), dtype=np.float32)
_CHILD[_BONES, _PARENTS[_BONES]] = 1.0
_IS_LEAF = _CHILD.sum(axis=0) == 0

ABSURD_MM = 10_000.0
MAX_SPEED_MM_S = 10_000.0


def invalid_values(positions: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """[T, J] True where a sample is unusable: NaN/inf, confidence NONE, all-zero, a coordinate beyond
    1 km, or a joint more than 10 m (``ABSURD_MM``) from the mean of the frame's other joints (a body
    is < 2.5 m tall; the absolute position may legitimately exceed 10 m on a long overground walk)."""
    with np.errstate(invalid="ignore", over="ignore"):
        ap = np.abs(positions)
        m = np.maximum(np.maximum(ap[..., 0], ap[..., 1]), ap[..., 2])  # NaN propagates
        bad = ~(m <= 1e6) | (m == 0) | (confidence == 0)
        ok = ~bad
        cnt = ok.sum(axis=1)
        centre = np.where(ok[..., None], positions, 0).sum(axis=1) / np.maximum(cnt, 1)[:, None]
        d = positions - centre[:, None, :]
        far = sqnorm3(d) > ABSURD_MM**2
    return bad | far


def velocity_spikes(positions: np.ndarray, valid: np.ndarray, fs: float = 30.0,
                    max_speed: float = MAX_SPEED_MM_S) -> np.ndarray:
    """[T, J] True at 1-frame teleports (speed in and out of the frame both above ``max_speed``)."""
    T = positions.shape[0]
    out = np.zeros(valid.shape, dtype=bool)
    if T < 3:
        return out
    step = norm3(np.diff(positions, axis=0))  # [T-1, J]
    lim = max_speed / fs
    both = valid[1:] & valid[:-1]
    fast = (step > lim) & both
    # a frame is a spike when the step into it and the step out of it are both too fast
    out[1:-1] = fast[:-1] & fast[1:]
    # first/last frame: only one neighbour to judge by; reject if the only step is too fast and the
    # following step is normal (the outlier is the edge frame)
    out[0] = fast[0] & ~fast[min(1, T - 2)]
    out[-1] = fast[-1] & ~fast[max(T - 3, 0)]
    return out


def bone_outliers(positions: np.ndarray, valid: np.ndarray, rel_tol: float = 0.4,
                  abs_tol: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Reject joints whose bones are inconsistent with their median lengths.

    Returns ([T, J] rejected, [J] median bone length to the parent in mm, NaN for the root/unknown).
    """
    child, parent = _BONES, _PARENTS[_BONES]
    length = norm3(positions[:, child] - positions[:, parent])  # [T, B]
    both = valid[:, child] & valid[:, parent]
    # median bone lengths from at most ~2000 frames (a robust statistic; subsampling keeps it cheap)
    step = max(length.shape[0] // 2000, 1)
    L = np.where(both[::step], length[::step], np.nan)
    med = np.full(AZURE32.size, np.nan)
    cnt = both[::step].sum(axis=0)
    enough = cnt >= 3
    if enough.any():
        # NaN-aware median per bone: sort (NaN last) and take the middle of the finite values
        srt = np.sort(L[:, enough], axis=0)
        c = cnt[enough]
        cols = np.arange(c.size)
        med[child[enough]] = 0.5 * (srt[(c - 1) // 2, cols] + srt[c // 2, cols])
    tol = np.maximum(rel_tol * med[child], abs_tol)
    with np.errstate(invalid="ignore"):
        bad_b = both & (np.abs(length - med[child]) > tol)  # [T, B]
    bad = np.zeros(valid.shape, dtype=bool)
    bad[:, child] = bad_b
    child_bad = (bad.astype(np.float32) @ _CHILD) > 0  # [T, J]: any bone to a child is bad
    # an inner joint is rejected if its parent bone and one of its child bones are bad; a leaf is
    # rejected if its bone is bad and its parent was not itself rejected (then the parent moved)
    inner = bad & child_bad & ~_IS_LEAF[None, :]
    leaf = bad & _IS_LEAF[None, :]
    leaf[:, child] &= ~inner[:, parent]
    return inner | leaf, med


def leg_swaps(positions: np.ndarray, valid: np.ndarray, ratio: float = 0.5,
              min_cost: float = 120.0) -> np.ndarray:
    """[T] True on frames whose leg labels are exchanged relative to the recording's majority.

    A toggle is detected between frames t-1 and t when assigning left(t) to right(t-1) and right(t)
    to left(t-1) costs less than ``ratio`` times the identity assignment, and the identity assignment
    moves the legs by more than ``min_cost`` mm in total (a real jump). Swapped state is the running
    parity of toggles; if more than half of the frames come out swapped, the parity is inverted (the
    majority labelling is taken as correct).
    """
    T = positions.shape[0]
    out = np.zeros(T, dtype=bool)
    if T < 3:
        return out
    L = positions[:, LEFT_LEG[_SWAP_JOINTS]]
    R = positions[:, RIGHT_LEG[_SWAP_JOINTS]]
    ok = valid[:, LEFT_LEG[_SWAP_JOINTS]].all(axis=1) & valid[:, RIGHT_LEG[_SWAP_JOINTS]].all(axis=1)
    same = norm3(L[1:] - L[:-1]).sum(1) + norm3(R[1:] - R[:-1]).sum(1)
    cross = norm3(L[1:] - R[:-1]).sum(1) + norm3(R[1:] - L[:-1]).sum(1)
    toggle = ok[1:] & ok[:-1] & (cross < ratio * same) & (same > min_cost)
    if not toggle.any():
        return out
    out[1:] = (np.cumsum(toggle) % 2).astype(bool)
    if out.mean() > 0.5:
        out = ~out
    return out


def unswap_legs(positions: np.ndarray, valid: np.ndarray, confidence: np.ndarray, swapped: np.ndarray):
    """Swap the left and right legs back on the ``swapped`` frames (in place copies returned)."""
    if not swapped.any():
        return positions, valid, confidence
    perm = np.arange(AZURE32.size)
    perm[LEFT_LEG], perm[RIGHT_LEG] = RIGHT_LEG, LEFT_LEG
    positions = positions.copy()
    valid = valid.copy()
    confidence = confidence.copy()
    positions[swapped] = positions[swapped][:, perm]
    valid[swapped] = valid[swapped][:, perm]
    confidence[swapped] = confidence[swapped][:, perm]
    return positions, valid, confidence
