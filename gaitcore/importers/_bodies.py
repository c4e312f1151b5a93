"""Choosing the subject when several bodies are in view (Azure Kinect body tracking).

Rule: keep the body tracked longest; among the bodies tracked at least ``LONGEST_FRACTION`` as long as the
longest, keep the one nearest the centre of the image (smallest mean horizontal angle ``|x| / z`` of the
pelvis from the optical axis). Frames where the kept body is absent are dropped (their timestamps stay
as gaps, which preprocessing fills or masks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LONGEST_FRACTION = 0.9


@dataclass
class BodyTrack:
    """One body's frames: frame indices [n], positions [n, 32, 3] mm, confidence [n, 32] or None."""

    body_id: int
    frames: np.ndarray
    positions: np.ndarray
    confidence: np.ndarray | None


def choose_body(tracks: list[BodyTrack], n_frames: int) -> tuple[BodyTrack, str | None]:
    """The subject's track and, when there was a choice, a sentence saying which and why."""
    if len(tracks) == 1:
        return tracks[0], None
    lengths = np.array([len(t.frames) for t in tracks])
    longest = lengths.max()
    angles = []
    for t in tracks:
        pelvis = t.positions[:, 0, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.degrees(np.arctan2(np.abs(pelvis[:, 0]), np.abs(pelvis[:, 2])))
        angles.append(float(np.nanmean(a)) if np.isfinite(a).any() else 90.0)
    cand = [i for i in range(len(tracks)) if lengths[i] >= LONGEST_FRACTION * longest]
    best = min(cand, key=lambda i: (angles[i], -lengths[i]))
    kept = tracks[best]
    ids = ", ".join(str(t.body_id) for t in tracks)
    msg = (
        f"{len(tracks)} bodies in view (ids {ids}): kept body {kept.body_id}, tracked in "
        f"{lengths[best]}/{n_frames} frames, {angles[best]:.1f} deg from the image centre"
    )
    others = [f"body {tracks[i].body_id}: {lengths[i]} frames, {angles[i]:.1f} deg" for i in range(len(tracks)) if i != best]
    return kept, msg + " (" + "; ".join(others) + ")"
