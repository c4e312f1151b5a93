"""Indicative normative ranges of engineered gait features for healthy adults walking on a treadmill at a
self-selected speed (rounded from commonly cited adult reference values; broad on purpose). They frame
the cohort's means in the dashboards; they are not diagnostic thresholds. Units follow
``gaitcore.features.FEATURES``."""

from __future__ import annotations

NORM_TASK = "treadmill_self_selected"

# feature -> (low, high)
NORMS: dict[str, tuple[float, float]] = {
    "walking_speed_m_s": (1.0, 1.5),
    "cadence_steps_min": (100.0, 125.0),
    "stride_length_m": (1.1, 1.6),
    "double_support_pct": (18.0, 30.0),
    "step_width_m": (0.05, 0.13),
    "stride_time_cv_pct": (1.0, 4.0),
    "step_time_asymmetry_pct": (0.0, 5.0),
}

KEY_FEATURES = ("walking_speed_m_s", "cadence_steps_min", "stride_length_m")


def label(feature: str) -> tuple[str, str]:
    """(label, unit) from the gaitcore catalogue."""
    from gaitcore.features.catalogue import BY_NAME

    spec = BY_NAME.get(feature)
    nice = feature.replace("_", " ")
    for suffix in (" m s", " steps min", " pct", " m", " mm", " deg", " s"):
        if nice.endswith(suffix):
            nice = nice[: -len(suffix)]
            break
    return nice.capitalize(), (spec.unit if spec else "")
