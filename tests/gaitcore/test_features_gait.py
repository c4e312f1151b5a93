"""Gait features recovered from walks with KNOWN cadence, step length, timing and speed.

Tolerances (stated here, also in docs/features.md): cadence, step and stride time +-2 %; step and stride
length +-5 %; step width +-15 mm; walking speed +-5 %; step-time / step-length asymmetry +-5 points;
stance +-3 points and double support +-6 points (events come from foot kinematics at 30 Hz; a frame
is 2.5-3.5 % of a stride, and double support doubles any stance error).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gaitcore.features import compute_task_features
from tests.gaitcore.walker import J, make_session, to_frame, walk_body

CASES = [  # (cadence steps/min, step length m, stance fraction)
    (90.0, 0.45, 0.65),
    (110.0, 0.65, 0.62),
    (124.0, 0.75, 0.60),
]


def _truth(cadence, step, stance):
    stride_t = 120.0 / cadence
    return {
        "cadence_steps_min": cadence, "step_time_s": stride_t / 2, "stride_time_s": stride_t,
        "step_length_m": step, "stride_length_m": 2 * step, "walking_speed_m_s": step * cadence / 60,
        "stance_pct": 100 * stance, "double_support_pct": 100 * (2 * stance - 1),
    }


def _check(vals, truth):
    for k in ("cadence_steps_min", "step_time_s", "stride_time_s"):
        assert vals[k] == pytest.approx(truth[k], rel=0.02), k
    for k in ("step_length_m", "stride_length_m"):
        assert vals[k] == pytest.approx(truth[k], rel=0.05), k
    assert vals["stance_pct"] == pytest.approx(truth["stance_pct"], abs=3)
    assert vals["swing_pct"] == pytest.approx(100 - vals["stance_pct"])
    assert vals["double_support_pct"] == pytest.approx(truth["double_support_pct"], abs=6)
    assert vals["stride_time_cv_pct"] < 2.0
    assert vals["step_time_asymmetry_pct"] < 3.0 and vals["step_length_asymmetry_pct"] < 3.0


@pytest.mark.parametrize("cadence,step,stance", CASES)
@pytest.mark.parametrize("kind", ["floor_z_up", "camera_y_down", "camera_y_up"])
def test_treadmill_walk_known_parameters(cadence, step, stance, kind):
    P = walk_body(duration_s=25, treadmill=True, cadence=cadence, step_length_m=step, stance=stance, seed=2)
    fs = compute_task_features(make_session(to_frame(P, kind, yaw_deg=-25), "treadmill_self_selected"))
    truth = _truth(cadence, step, stance)
    _check(fs.values, truth)
    # no belt speed in metadata: speed = step length x cadence
    assert fs.details["speed_method"] == "step_length_x_cadence"
    assert fs.values["walking_speed_m_s"] == pytest.approx(truth["walking_speed_m_s"], rel=0.05)
    assert fs.values["step_width_m"] == pytest.approx(0.18, abs=0.015)


@pytest.mark.parametrize("cadence,step,stance", CASES)
@pytest.mark.parametrize("kind", ["floor_z_up", "camera_y_down", "panning"])
def test_overground_walk_known_parameters(cadence, step, stance, kind):
    P = walk_body(duration_s=12, treadmill=False, cadence=cadence, step_length_m=step, stance=stance, seed=4)
    fs = compute_task_features(make_session(to_frame(P, kind, yaw_deg=40), "overground_walk"))
    truth = _truth(cadence, step, stance)
    _check(fs.values, truth)
    assert fs.details["speed_method"] == "pelvis_path"
    assert fs.values["walking_speed_m_s"] == pytest.approx(truth["walking_speed_m_s"], rel=0.05)


def test_belt_speed_from_metadata_and_protocol():
    P = walk_body(duration_s=15, treadmill=True, cadence=100, step_length_m=0.5)
    fs = compute_task_features(make_session(P, "treadmill_self_selected", {"belt_speed_m_s": 0.9}))
    assert fs.values["walking_speed_m_s"] == 0.9 and fs.details["speed_method"] == "belt_speed_metadata"
    fs = compute_task_features(make_session(P, "treadmill_3kmh"))
    assert fs.values["walking_speed_m_s"] == pytest.approx(3 / 3.6)
    assert fs.details["speed_method"] == "protocol_belt_speed"


def test_asymmetric_walker():
    # right heel strike at 45 % of the left stride instead of 50 %: left steps last 0.55 stride,
    # right steps 0.45 -> step-time asymmetry 20 %, step-length asymmetry 20 % (treadmill)
    P = walk_body(duration_s=25, treadmill=True, cadence=100, step_length_m=0.6, right_step_delay=0.45,
                  arm_swing_deg=(10.0, 25.0))
    v = compute_task_features(make_session(to_frame(P, "camera_y_down"), "treadmill_self_selected")).values
    assert v["step_time_asymmetry_pct"] == pytest.approx(20.0, abs=5)
    assert v["step_length_asymmetry_pct"] == pytest.approx(20.0, abs=5)
    assert v["cadence_steps_min"] == pytest.approx(100, rel=0.02)
    # arm swing: wrist AP excursion relative to the pelvis, known from the noise-free skeleton
    for side, key in (("LEFT", "arm_swing_left_mm"), ("RIGHT", "arm_swing_right_mm")):
        x = P[:, J[f"WRIST_{side}"], 0] - P[:, J["PELVIS"], 0]
        true = np.percentile(x, 97.5) - np.percentile(x, 2.5)
        assert v[key] == pytest.approx(true, rel=0.05)
    assert v["arm_swing_left_mm"] < v["arm_swing_right_mm"]
    assert v["arm_swing_asymmetry_pct"] > 50


def test_walk_in_place_cadence_without_step_length():
    P = walk_body(duration_s=30, in_place=True, cadence=96)
    fs = compute_task_features(make_session(to_frame(P, "camera_y_down"), "walk_in_place"))
    assert fs.details["event_method"] == "vertical"
    assert fs.values["cadence_steps_min"] == pytest.approx(96, rel=0.02)
    assert fs.values["stride_time_s"] == pytest.approx(1.25, rel=0.02)
    assert "step_length_m" not in fs.values and "step_length_m" not in fs.missing  # not a walk_in_place feature
    assert "walking_speed_m_s" not in fs.values


def test_joint_rom_matches_the_skeleton():
    P = walk_body(duration_s=15, treadmill=True, cadence=110, step_length_m=0.65)
    v = compute_task_features(make_session(to_frame(P, "camera_y_up", yaw_deg=70), "treadmill_self_selected")).values
    hip, knee, ank = P[:, J["HIP_LEFT"]], P[:, J["KNEE_LEFT"]], P[:, J["ANKLE_LEFT"]]
    u, w = hip - knee, ank - knee
    ang = 180 - np.degrees(np.arccos(np.sum(u * w, 1) / np.linalg.norm(u, axis=1) / np.linalg.norm(w, axis=1)))
    assert v["knee_rom_left_deg"] == pytest.approx(np.percentile(ang, 97.5) - np.percentile(ang, 2.5), abs=3)
    th = knee - hip
    tr = P[:, J["SPINE_CHEST"]] - P[:, J["PELVIS"]]
    # sagittal hip flexion: thigh angle from the downward trunk line
    hip_ang = np.degrees(np.arctan2(th[:, 0], -th[:, 2]) + np.arctan2(tr[:, 0], tr[:, 2]))
    assert v["hip_rom_left_deg"] == pytest.approx(np.percentile(hip_ang, 97.5) - np.percentile(hip_ang, 2.5), abs=3)
    assert 20 < v["hip_rom_right_deg"] < 70 and 20 < v["knee_rom_right_deg"] < 80


def test_values_are_finite_and_missing_has_reasons():
    P = walk_body(duration_s=1.6, treadmill=True)  # too short for strides
    fs = compute_task_features(make_session(P, "treadmill_self_selected"))
    assert all(math.isfinite(x) for x in fs.values.values())
    assert "stride_time_cv_pct" in fs.missing and "3 strides" in fs.missing["stride_time_cv_pct"]
    assert set(fs.values).isdisjoint(fs.missing)
    # feet never tracked: gait features missing with a reason, never zero
    P = walk_body(duration_s=10, treadmill=True)
    S = make_session(P, "treadmill_self_selected")
    S.confidence[:, [J["ANKLE_LEFT"], J["ANKLE_RIGHT"], J["FOOT_LEFT"], J["FOOT_RIGHT"]]] = 0
    fs = compute_task_features(S)
    for k in ("cadence_steps_min", "step_length_m", "stance_pct", "walking_speed_m_s"):
        assert k not in fs.values and fs.missing[k]
    assert "arm_swing_left_mm" in fs.values  # what can be computed still is


@pytest.mark.parametrize("schema_name", ["kinect_v1_20", "kinect_v2_25"])
def test_older_sensors_joint_subsets(schema_name):
    # joints a sensor lacks are stored with confidence NONE: features still come out right
    from gaitcore.schemas import SCHEMAS

    present = set(SCHEMAS[schema_name].to_azure)
    P = walk_body(duration_s=15, treadmill=False, cadence=104, step_length_m=0.6)
    S = make_session(to_frame(P, "camera_y_up"), "overground_walk")
    for j in range(32):
        if j not in present:
            S.confidence[:, j] = 0
            S.positions[:, j] = 0
    v = compute_task_features(S).values
    assert v["cadence_steps_min"] == pytest.approx(104, rel=0.02)
    assert v["step_length_m"] == pytest.approx(0.6, rel=0.05)
    assert v["walking_speed_m_s"] == pytest.approx(0.6 * 104 / 60, rel=0.05)


def test_treadmill_data_labelled_overground():
    # pelvis stays put while the planted feet move back: treated as treadmill-like, not as 0 m/s
    P = walk_body(duration_s=12, treadmill=True, cadence=100, step_length_m=0.55)
    fs = compute_task_features(make_session(P, "overground_walk"))
    assert fs.details.get("treadmill_like") is True
    assert fs.values["step_length_m"] == pytest.approx(0.55, rel=0.05)
    assert fs.values["walking_speed_m_s"] == pytest.approx(0.55 * 100 / 60, rel=0.05)
