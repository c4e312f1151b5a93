"""Sensor model effects: noise by joint and depth, occlusions, swaps, camera pose, timing."""

import numpy as np

from gaitcore.schemas import AZURE32, Confidence
from gaitcore.synth import gait
from gaitcore.synth.anthropometry import make_body
from gaitcore.synth.sensor import CameraPose, frame_times, observe

J = AZURE32.index


def _walk():
    body = make_body(1.7, False, 23.0)
    t = np.arange(0, 20, 1 / 30)
    pos, _ = gait.walk(body, gait.GaitParams(cadence=100, step_length=0.6), t, None, treadmill=True)
    return pos


def test_camera_space_axes():
    cam = CameraPose(1000, 2500, 0.0)
    p = cam.to_camera(np.array([[0.0, 1000.0, 0.0], [0.0, 2000.0, 0.0], [100.0, 1000.0, 0.0]]))
    assert np.allclose(p[0], [0, 0, 2500])
    assert p[1, 1] < p[0, 1]  # up in the world = negative y (down) in camera space
    assert p[2, 0] > 0  # the subject's left appears on the image's right (+x)
    tilted = CameraPose(1300, 2500, 10.0).to_camera(np.zeros((1, 3)))
    assert tilted[0, 1] > 0


def test_noise_larger_distally_and_along_depth():
    pos = _walk()
    cam = CameraPose(1000, 2500, 5.0)
    clean = cam.to_camera(pos)
    obs, conf, _ = observe(pos, cam, np.random.default_rng(0))
    ok = conf == Confidence.MEDIUM
    err = obs - clean
    d = lambda j, k: np.std(err[ok[:, j], j, k])  # noqa: E731
    assert d(J("WRIST_LEFT"), 0) > 1.5 * d(J("SPINE_CHEST"), 0)
    assert d(J("PELVIS"), 2) > 1.5 * d(J("PELVIS"), 0)
    far = CameraPose(1000, 4500, 5.0)
    obs2, conf2, _ = observe(pos, far, np.random.default_rng(0))
    err2 = obs2 - far.to_camera(pos)
    assert np.std(err2[:, J("PELVIS"), 2]) > np.std(err[:, J("PELVIS"), 2])


def test_occlusions_swaps_and_confidence():
    pos = _walk()
    cam = CameraPose(1000, 2500, 5.0)
    n = len(pos)
    obs, conf, summ = observe(pos, cam, np.random.default_rng(3), walking=np.ones(n, bool), noise_scale=0.0)
    low = np.mean(conf <= Confidence.LOW, axis=0)
    assert 0.0 < summ["low_fraction"] < 0.15
    assert low[J("HANDTIP_LEFT")] > low[J("SPINE_CHEST")]
    assert set(np.unique(conf)) <= {0, 1, 2}
    # swaps: with a high rate, some frames have left/right legs exchanged
    rng = np.random.default_rng(0)
    total = 0
    for _k in range(5):
        _, _, s = observe(pos, cam, rng, walking=np.ones(n, bool))
        total += s["leg_swaps"]
    assert total >= 1


def test_frame_times_jitter_and_drops():
    ts = frame_times(3000, 0, np.random.default_rng(0))
    d = np.diff(ts)
    assert np.all(d > 0)
    assert 2900 < len(ts) < 3000  # some frames dropped
    assert np.any(d > 60000)  # a gap of at least one frame
    assert 100 < np.std(d[d < 40000]) < 1000  # sub-ms jitter


def test_realism_statistics_on_a_synthetic_walk():
    from gaitcore.synth.cohort import build_session
    from gaitcore.synth.realism import walk_stats

    s, _ = build_session(5, 1, 0, tasks=("treadmill_self_selected",), duration_scale=0.2)
    st = walk_stats(s)
    assert 0.01 < st["bone_length_cv"] < 0.15
    assert st["jitter_wrists_mm"] > st["jitter_torso_mm"] > 0.5
    assert 0.0 < st["low_conf_share"] < 0.1
    assert 40 < st["knee_range_deg"] < 80
