"""Normative sagittal joint-angle curves over the gait cycle (degrees), as periodic splines.

Keypoints are read off the mean curves of healthy adults walking at self-selected speed in
J. Perry & J. M. Burnfield, *Gait Analysis: Normal and Pathological Function*, 2nd ed., 2010
(ch. 5-7) and D. A. Winter, *The Biomechanics and Motor Control of Human Gait*, 2nd ed., 1991:
initial contact at 0 %, toe-off at 60 %.

* hip (thigh relative to the pelvis, flexion +): ~32 deg at initial contact, extends to ~-8 deg at
  terminal stance (50-55 %), peak flexion ~35 deg in terminal swing (85-90 %).
* knee (flexion +): ~5 deg at contact, loading-response flexion ~18 deg at 12-15 %, near extension at
  ~40 %, ~38 deg at toe-off, peak ~62 deg at 72 %, back to ~3 deg at 97 %.
* ankle (dorsiflexion +): ~0 at contact, first rocker plantarflexion ~-6 deg at 6 %, second rocker
  dorsiflexion ~10 deg at 45-48 %, push-off plantarflexion ~-17 deg at 62 %, ~0 in mid-swing.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

TOE_OFF = 0.60  # template toe-off (fraction of the cycle)

_KEYS = {
    "hip": [(0.00, 32), (0.05, 31), (0.15, 24), (0.30, 11), (0.42, 1), (0.52, -8), (0.58, -5),
            (0.64, 3), (0.74, 21), (0.85, 34), (0.90, 35), (0.96, 33)],
    "knee": [(0.00, 5), (0.06, 13), (0.13, 18), (0.24, 12), (0.38, 4), (0.45, 5), (0.52, 14),
             (0.60, 38), (0.67, 56), (0.72, 62), (0.80, 54), (0.88, 30), (0.95, 7)],
    "ankle": [(0.00, 0), (0.06, -6), (0.12, -2), (0.25, 5), (0.40, 9), (0.47, 10), (0.54, 2),
              (0.62, -17), (0.70, -10), (0.80, -2), (0.90, 0), (0.96, 0)],
}  # fmt: skip


def _spline(keys: list[tuple[float, float]]) -> CubicSpline:
    x = np.array([k[0] for k in keys] + [1.0])
    y = np.array([k[1] for k in keys] + [keys[0][1]], dtype=float)
    return CubicSpline(x, y, bc_type="periodic")


CURVES = {name: _spline(keys) for name, keys in _KEYS.items()}
MEANS = {name: float(np.mean(c(np.linspace(0, 1, 1000, endpoint=False)))) for name, c in CURVES.items()}


def warp_phase(phase: np.ndarray, stance: float | np.ndarray) -> np.ndarray:
    """Map a cycle phase (0..1, 0 = initial contact) with toe-off at ``stance`` onto the template's
    phase (toe-off at 0.60): piecewise-linear time warping of stance and swing."""
    phase = np.mod(phase, 1.0)
    return np.where(phase < stance, TOE_OFF * phase / stance,
                    TOE_OFF + (1 - TOE_OFF) * (phase - stance) / (1 - stance))


def curve(name: str, template_phase: np.ndarray) -> np.ndarray:
    """Template angle (degrees) at template phases."""
    return CURVES[name](np.mod(template_phase, 1.0))
