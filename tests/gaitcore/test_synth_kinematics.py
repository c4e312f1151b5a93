"""Plausibility of the synthetic skeleton and of its gait (no sensor noise)."""

import numpy as np
import pytest

from gaitcore.schemas import AZURE32
from gaitcore.synth import gait, posture
from gaitcore.synth.anthropometry import bone_lengths, make_body
from gaitcore.synth.realism import gait_cycles, knee_flexion
from gaitcore.synth.subject import comfortable_speed_norm

J = AZURE32.index


@pytest.fixture(scope="module")
def body():
    return make_body(1.75, True, 24.0)


@pytest.fixture(scope="module")
def walk(body):
    t = np.arange(0, 8, 1 / 30)
    gp = gait.GaitParams(cadence=112, step_length=0.72)
    pos, truth = gait.walk(body, gp, t, None, treadmill=False)
    return pos, truth, gp


def test_segment_lengths_follow_winter(body):
    assert body.thigh == pytest.approx(0.245 * 1750, rel=0.01)
    assert body.shank == pytest.approx(0.246 * 1750, rel=0.01)
    women = make_body(1.75, False, 24.0)
    assert women.hip_half_width > body.hip_half_width  # wider pelvis
    assert make_body(1.75, True, 35.0).hip_half_width > body.hip_half_width  # BMI widens


def test_rigid_skeleton_and_standing_height(walk, body):
    pos, _, _ = walk
    bl = bone_lengths(pos)
    assert np.max(np.std(bl, axis=0)) < 1e-6  # forward kinematics keeps bones rigid
    head = pos[:, J("HEAD"), 1]
    assert 0.85 * 1750 < head.mean() < 0.95 * 1750


def test_walk_speed_cadence_step_as_requested(walk):
    pos, truth, gp = walk
    assert truth["cadence_spm"] == pytest.approx(112, rel=0.01)
    assert truth["step_length_m"] == pytest.approx(0.72, rel=0.03)
    assert truth["speed_mps"] == pytest.approx(gp.speed, rel=0.03)
    # pelvis: forward speed fluctuates mildly, vertical excursion 2-6 cm
    v = np.diff(pos[:, 0, 2]) * 30 / 1000
    assert 0.7 * gp.speed < v.min() and v.max() < 1.4 * gp.speed
    assert 20 < np.ptp(pos[30:, 0, 1]) < 60


def test_feet_on_the_floor_and_clear_it(walk):
    pos, _, _ = walk
    for side in ("LEFT", "RIGHT"):
        foot, ankle = pos[:, J(f"FOOT_{side}"), 1], pos[:, J(f"ANKLE_{side}"), 1]
        assert foot.min() > -15  # no real floor penetration
        assert ankle.min() > 40
        assert 150 < ankle.max() < 320  # the foot is lifted in swing


def test_knee_and_hip_curves_normative(walk):
    pos, _, _ = walk
    k = knee_flexion(pos, "LEFT")
    assert 50 < k.max() < 72 and k.min() < 12
    body_frame = pos[:, :, [2, 0, 1]]  # x forward, y left, z up
    c = gait_cycles(body_frame)
    assert len(c["knee"]) >= 4
    knee = c["knee"].mean(0)
    assert 60 <= int(np.argmax(knee)) <= 85  # swing peak in mid-swing
    hip = c["hip"].mean(0)
    assert 30 < np.ptp(hip) < 55


def test_treadmill_keeps_pelvis_in_place_and_moves_feet_back(body):
    t = np.arange(0, 10, 1 / 30)
    gp = gait.GaitParams(cadence=95, step_length=0.833 * 60 / 95)
    pos, truth = gait.walk(body, gp, t, np.random.default_rng(0), treadmill=True)
    assert np.ptp(pos[:, 0, 2]) < 200
    assert truth["belt_speed_mps"] == pytest.approx(0.833, rel=0.05)
    vz = np.diff(pos[:, J("ANKLE_LEFT"), 2]) * 30 / 1000
    low = pos[1:, J("ANKLE_LEFT"), 1] < pos[:, J("ANKLE_LEFT"), 1].min() + 10
    assert np.median(vz[low]) == pytest.approx(-0.833, abs=0.25)  # stance foot travels with the belt


def test_speed_norms_fall_with_age():
    assert comfortable_speed_norm(75, True) < comfortable_speed_norm(45, True)
    assert comfortable_speed_norm(75, False) < comfortable_speed_norm(75, True)


def test_sit_to_stand_and_romberg(body):
    t = np.arange(0, 30, 1 / 30)
    pos, seated, tr = posture.sit_to_stand(body, t, 14.0, None)
    assert tr["completed_reps"] in (13, 14)
    assert seated.any() and (~seated).any()
    assert np.ptp(pos[:, 0, 1]) > 300  # the pelvis rises from the seat
    assert np.ptp(pos[:, J("ANKLE_LEFT")], axis=0).max() < 25  # feet stay put
    k = knee_flexion(pos, "LEFT")
    assert k.max() > 75 and k.min() < 20
    r1, tr1 = posture.romberg(body, t, 4.0, np.random.default_rng(1))
    r2, tr2 = posture.romberg(body, t, 12.0, np.random.default_rng(1))
    assert tr2["sway_rms_ap_mm"] > 2 * tr1["sway_rms_ap_mm"]
    assert np.ptp(r1[:, J("ANKLE_LEFT")], axis=0).max() < 5
