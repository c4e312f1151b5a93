"""The feature catalogue as data: name, unit, tasks it applies to, description.

``render_markdown()`` produces docs/features.md (``python -m gaitcore.features.catalogue > docs/features.md``
regenerates the table part).
"""

from __future__ import annotations

from dataclasses import dataclass

WALK = ("treadmill_3kmh", "treadmill_self_selected", "overground_walk")
GAIT = WALK + ("walk_in_place",)
ROMBERG = ("romberg_eyes_closed",)
STS = ("sit_to_stand",)
ALL = GAIT + ROMBERG + STS


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    unit: str
    tasks: tuple[str, ...]
    description: str
    group: str


_F = FeatureSpec
FEATURES: tuple[FeatureSpec, ...] = (
    # --- temporal (gait events) ---
    _F("cadence_steps_min", "steps/min", GAIT, "Steps per minute: 60 / mean step time (heel strike to the next "
       "contralateral heel strike).", "temporal"),
    _F("step_time_s", "s", GAIT, "Mean time from a heel strike to the next contralateral heel strike.", "temporal"),
    _F("stride_time_s", "s", GAIT, "Mean time between consecutive heel strikes of the same foot.", "temporal"),
    _F("stride_time_cv_pct", "%", GAIT, "Stride-time variability: coefficient of variation (SD / mean x 100) "
       "of stride times, both feet pooled; needs >= 3 strides.", "temporal"),
    _F("step_time_asymmetry_pct", "%", GAIT, "|mean left step time - mean right step time| / their mean x 100 "
       "(a left step ends with a left heel strike).", "temporal"),
    _F("stance_pct", "% gait cycle", GAIT, "Stance phase (heel strike to toe-off of the same foot) as % of the "
       "stride, mean of both feet.", "temporal"),
    _F("swing_pct", "% gait cycle", GAIT, "Swing phase (toe-off to heel strike) as % of the stride: 100 - stance.",
       "temporal"),
    _F("single_support_pct", "% gait cycle", GAIT, "Single-limb support: the contralateral foot's swing, "
       "100 - contralateral stance %, mean of both feet.", "temporal"),
    _F("double_support_pct", "% gait cycle", GAIT, "Total double support (both feet on the ground): "
       "stance_left % + stance_right % - 100.", "temporal"),
    # --- spatial ---
    _F("step_length_m", "m", WALK, "Mean anterior-posterior distance between the two ankles at heel strike "
       "(= difference of their positions relative to the pelvis, so it is valid on a treadmill).", "spatial"),
    _F("stride_length_m", "m", WALK, "Mean sum of two consecutive step lengths (one left and one right step).",
       "spatial"),
    _F("step_width_m", "m", WALK, "Mean medio-lateral distance between the two ankles at heel strike.", "spatial"),
    _F("step_length_asymmetry_pct", "%", WALK, "|mean left step length - mean right step length| / their mean "
       "x 100.", "spatial"),
    _F("walking_speed_m_s", "m/s", WALK, "Overground: horizontal path length of the 1 s-smoothed pelvis "
       "trajectory / time. Treadmill: belt speed from metadata['belt_speed_m_s'] (or 3 km/h for "
       "treadmill_3kmh), otherwise step length x cadence. details['speed_method'] says which.", "spatial"),
    # --- upper body ---
    _F("arm_swing_left_mm", "mm", GAIT, "Left arm swing amplitude: 2.5-97.5 percentile range of the left "
       "wrist's anterior-posterior position relative to the pelvis.", "upper_body"),
    _F("arm_swing_right_mm", "mm", GAIT, "Right arm swing amplitude (as for the left).", "upper_body"),
    _F("arm_swing_asymmetry_pct", "%", GAIT, "|left - right arm swing| / their mean x 100.", "upper_body"),
    _F("trunk_sway_ml_mm", "mm", GAIT + ROMBERG, "Medio-lateral sway of the upper trunk (SPINE_CHEST) after "
       "removing its 2 s moving average (drift, progression): 2.5-97.5 percentile range.", "upper_body"),
    _F("trunk_sway_ap_mm", "mm", GAIT + ROMBERG, "Antero-posterior sway of the upper trunk, as for ML.",
       "upper_body"),
    _F("head_vertical_sway_mm", "mm", GAIT + ROMBERG, "Vertical excursion of the HEAD joint after removing "
       "its 2 s moving average: 2.5-97.5 percentile range.", "upper_body"),
    _F("wrist_sway_mm", "mm", GAIT + ROMBERG, "RMS distance of each wrist (relative to the pelvis) from its "
       "mean position, mean of both wrists.", "upper_body"),
    # --- joint angles ---
    _F("hip_rom_left_deg", "deg", GAIT + STS, "Left hip flexion-extension range of motion: 2.5-97.5 percentile "
       "range of the sagittal-plane angle between trunk (pelvis -> chest) and thigh (hip -> knee).", "joints"),
    _F("hip_rom_right_deg", "deg", GAIT + STS, "Right hip range of motion (as for the left).", "joints"),
    _F("knee_rom_left_deg", "deg", GAIT + STS, "Left knee flexion range of motion: 2.5-97.5 percentile range of "
       "180 - the hip-knee-ankle angle.", "joints"),
    _F("knee_rom_right_deg", "deg", GAIT + STS, "Right knee range of motion (as for the left).", "joints"),
    # --- balance ---
    _F("romberg_sway_path_mm", "mm", ROMBERG, "Path length of the horizontal centre-of-mass proxy (mean of "
       "PELVIS and SPINE_NAVEL, low-passed at 5 Hz) over the task.", "balance"),
    _F("romberg_sway_velocity_mm_s", "mm/s", ROMBERG, "Sway path length / duration.", "balance"),
    _F("romberg_sway_area_mm2", "mm^2", ROMBERG, "Area of the 95 % confidence ellipse of the horizontal "
       "centre-of-mass proxy.", "balance"),
    # --- sit to stand ---
    _F("sts_repetitions", "count", STS, "Sit-to-stand repetitions: upward crossings of the pelvis height "
       "mid-level (between seated and standing) when the pelvis moves >= 150 mm vertically.", "sit_to_stand"),
    _F("sts_time_per_rep_s", "s", STS, "Mean time between consecutive stand-ups; needs >= 2 repetitions.",
       "sit_to_stand"),
    # --- body size (every task: bones do not change with the task) ---
    _F("thigh_length_mm", "mm", ALL, "Hip-to-knee distance, median over frames, mean of both sides.", "body_size"),
    _F("shank_length_mm", "mm", ALL, "Knee-to-ankle distance, median over frames, mean of both sides.", "body_size"),
    _F("upper_arm_length_mm", "mm", ALL, "Shoulder-to-elbow distance, median over frames, mean of both sides.",
       "body_size"),
    _F("forearm_length_mm", "mm", ALL, "Elbow-to-wrist distance, median over frames, mean of both sides.",
       "body_size"),
    _F("leg_length_mm", "mm", ALL, "Thigh + shank length (hip joint to ankle joint).", "body_size"),
    _F("estimated_stature_mm", "mm", ALL, "Joint chain ankle -> knee -> hip -> pelvis -> spine -> neck -> head "
       "(medians over frames): a stature proxy that leaves out the foot height and the crown above HEAD.",
       "body_size"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}


def render_markdown() -> str:
    """The catalogue as a Markdown table (docs/features.md embeds it)."""
    lines = ["| feature | unit | tasks | description |", "|---|---|---|---|"]
    for f in FEATURES:
        tasks = ", ".join(f.tasks)
        lines.append(f"| `{f.name}` | {f.unit} | {tasks} | {f.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
