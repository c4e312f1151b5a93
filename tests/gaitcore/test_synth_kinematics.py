"""Plausibility of the synthetic skeleton and of its gait (no sensor noise)."""

import numpy as np
import pytest

from gaitcore.schemas import AZURE32
from gaitcore.synth import gait, posture
from gaitcore.synth.anthropometry import bone_lengths, make_body
from gaitcore.synth.realism import gait_cycles, knee_flexion
from gaitcore.synth.skeleton import joint_angle
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


def _sagittal_deg(v: np.ndarray) -> np.ndarray:
    """Forward inclination from vertical (deg) of vectors [T, 3] in the body frame (z forward, y up)."""
    return np.degrees(np.arctan2(v[..., 2], v[..., 1]))


def test_thoracic_flexion_bends_the_upper_thorax_and_the_head_comes_forward(body):
    t = np.arange(0, 2, 1 / 30)
    upright, _ = posture.romberg(body, t, 5.0, None)
    kyphotic, _ = posture.romberg(body, t, 5.0, None, thoracic_flex=15.0)
    up = lambda pos, a, b: _sagittal_deg(pos[:, J(b)] - pos[:, J(a)])  # noqa: E731
    # the upper thorax (SPINE_CHEST -> NECK) leans 15 deg further forward than the trunk below it
    bend_up = up(upright, "SPINE_CHEST", "NECK") - up(upright, "SPINE_NAVEL", "SPINE_CHEST")
    bend_ky = up(kyphotic, "SPINE_CHEST", "NECK") - up(kyphotic, "SPINE_NAVEL", "SPINE_CHEST")
    assert np.mean(bend_ky - bend_up) == pytest.approx(15.0, abs=0.5)
    # forward head and rounded shoulders: both move forward of the pelvis; the neck takes back 70 % of
    # the flexion, so the head's own inclination changes by only 30 %
    for joint in ("HEAD", "SHOULDER_LEFT", "CLAVICLE_RIGHT"):
        fwd = (kyphotic[:, J(joint), 2] - kyphotic[:, 0, 2]) - (upright[:, J(joint), 2] - upright[:, 0, 2])
        assert fwd.mean() > 20.0, joint
    head_tilt = up(kyphotic, "NECK", "HEAD") - up(upright, "NECK", "HEAD")
    assert np.mean(head_tilt) == pytest.approx(0.3 * 15.0, abs=1.0)
    assert np.max(np.std(bone_lengths(kyphotic), axis=0)) < 1e-6


def test_hip_extension_and_push_off_losses_at_unchanged_step_length(body):
    """Generator 1.1's speed-independent ageing, measured on the skeleton: each effect alone moves what
    it should, and the walk keeps its cadence and step length (the hip gain is re-solved)."""
    t = np.arange(0, 8, 1 / 30)

    def measure(**kw):
        pos, truth = gait.walk(body, gait.GaitParams(cadence=110, step_length=0.65, **kw), t, None, treadmill=True)
        thigh = _sagittal_deg(pos[:, J("HIP_LEFT")] - pos[:, J("KNEE_LEFT")])  # + = knee behind the hip
        lumbar = _sagittal_deg(pos[:, J("SPINE_NAVEL")] - pos[:, J("PELVIS")])
        # angle at the ankle between shank and foot: grows with plantarflexion
        ankle = joint_angle(pos[:, J("KNEE_LEFT")], pos[:, J("ANKLE_LEFT")], pos[:, J("FOOT_LEFT")])
        return {"thigh_ext": thigh.max(), "lumbar": lumbar.mean(), "plantar": ankle.max(), **truth}

    ref = measure()
    hip, tilt, push = measure(hip_ext_loss=5.0), measure(pelvis_tilt=14.0), measure(pushoff_loss=6.0)
    for m in (hip, tilt, push):
        assert m["step_length_m"] == pytest.approx(ref["step_length_m"], rel=0.02)
        assert m["cadence_spm"] == pytest.approx(ref["cadence_spm"], rel=0.01)
    assert hip["thigh_ext"] < ref["thigh_ext"] - 2.0  # less peak extension in terminal stance
    assert hip["plantar"] == pytest.approx(ref["plantar"], abs=0.5)
    # more anterior tilt: the lumbar spine leans forward, and (hip angle unchanged) the thigh extends
    # further globally, which is how the elderly's tilt compensates for their reduced hip extension
    assert tilt["lumbar"] > ref["lumbar"] + 0.8 and tilt["thigh_ext"] > ref["thigh_ext"] + 2.0
    assert push["plantar"] < ref["plantar"] - 3.0  # less push-off plantarflexion
    assert push["thigh_ext"] == pytest.approx(ref["thigh_ext"], abs=1.5)


def test_ageing_posture_follows_age_and_leaves_generator_1_0_numbers_alone():
    from gaitcore.synth.cohort import rng_for, subject_at_visit
    from gaitcore.synth.subject import movement_params

    s, _ = subject_at_visit(11, 1, 0)
    mp = movement_params(s, rng_for(11, 1, "movement", 0))
    # generator 1.0's values of this subject (the ageing draws come after all of 1.0's draws)
    assert mp["treadmill_3kmh"].cadence == pytest.approx(86.9311574892758, abs=1e-9)
    assert mp["treadmill_3kmh"].step_length == pytest.approx(0.5751677700388172, abs=1e-12)
    assert mp["overground_walk"].arm_swing == pytest.approx(9.672156855264737, abs=1e-9)
    assert mp["sts_reps_per_30s"] == pytest.approx(16.763864006139396, abs=1e-9)
    assert mp["romberg_sway_ap_mm"] == pytest.approx(8.468963149439931, abs=1e-9)
    young, old = [], []
    for i in range(1, 401):
        s, _ = subject_at_visit(5, i, 0)
        gp = movement_params(s, rng_for(5, i, "movement", 0))["overground_walk"]
        row = (gp.thoracic_flex, gp.hip_ext_loss, gp.pelvis_tilt, gp.pushoff_loss)
        if s.age < 40:
            young.append(row)
        elif s.age > 62:
            old.append(row)
    diff = np.mean(old, axis=0) - np.mean(young, axis=0)
    assert np.all(diff > 0), diff  # kyphosis, hip extension loss, pelvic tilt, push-off loss all rise
    assert 3.0 < diff[0] < 12.0 and 1.0 < diff[1] < 4.0 and 0.3 < diff[2] < 2.5 and 1.0 < diff[3] < 4.5
