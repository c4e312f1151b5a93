"""Shared helpers of the GaitMAE tests: a tiny synthetic cohort (no shared data is read)."""

from __future__ import annotations

from pathlib import Path


def tiny_cohort(out: Path, n_subjects: int = 6, seed: int = 3) -> Path:
    """Sessions of ``n_subjects`` synthetic subjects (treadmill only, 36 s): returns the sessions folder."""
    from gaitcore.synth.cohort import generate_cohort

    generate_cohort(out, n_subjects, seed, tasks=("treadmill_3kmh",), duration_scale=0.2)
    return out / "sessions"
