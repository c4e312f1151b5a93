"""Each preprocessing step on small hand-made arrays (no files, no shared data)."""

from __future__ import annotations

import numpy as np
import pytest

from gaitcore.preprocess.filters import median3
from gaitcore.preprocess.gaps import fill_gaps
from gaitcore.preprocess.normalise import denormalise_error, normalise
from gaitcore.preprocess.outliers import (
    LEFT_LEG,
    RIGHT_LEG,
    bone_outliers,
    invalid_values,
    leg_swaps,
    unswap_legs,
    velocity_spikes,
)
from gaitcore.preprocess.resample import is_regular, resample
from gaitcore.preprocess.windows import make_windows, stack_windows
from gaitcore.schemas import MODEL26
from tests.gaitcore.walker import J, walk_body


def test_resample_uneven_timestamps_to_30hz():
    # 15 Hz-ish irregular source of a linear motion: resampled values lie on the same line
    ts = np.cumsum(np.r_[0, np.full(40, 66_667) + np.random.default_rng(0).integers(-3000, 3000, 40)])
    T = ts.size
    P = np.zeros((T, 2, 3))
    P[:, 0, 0] = ts / 1e3  # x = t in ms -> 1 mm per ms
    P[:, 1, 1] = 5.0
    v = np.ones((T, 2), bool)
    c = np.full((T, 2), 2, np.uint8)
    out, vo, co, to, src, rec = resample(P, v, c, ts, 30.0)
    assert rec["resampled"] and not is_regular(ts, 30.0)
    assert np.allclose(np.diff(to), 1e6 / 30, atol=1)
    assert out.shape == (to.size, 2, 3) and to.size == pytest.approx((ts[-1] - ts[0]) / 1e6 * 30 + 1, abs=1)
    assert np.allclose(out[:, 0, 0], to / 1e3, atol=1e-2)
    assert vo.all() and (co == 2).all()
    assert np.all(np.diff(src) >= 0)


def test_resample_regular_is_noop_and_long_gap_is_invalid():
    ts = np.arange(10) * 33_333
    P = np.random.default_rng(1).normal(size=(10, 3, 3))
    v = np.ones((10, 3), bool)
    c = np.full((10, 3), 2, np.uint8)
    out, vo, co, to, src, rec = resample(P, v, c, ts)
    assert not rec["resampled"] and np.array_equal(to, ts) and np.allclose(out, P)
    ts2 = np.r_[np.arange(5) * 33_333, 1_000_000 + np.arange(5) * 33_333]  # 0.87 s hole
    out, vo, co, to, src, rec = resample(P, v, c, ts2)
    inside = (to > ts2[4]) & (to < ts2[5])
    assert inside.sum() > 20 and not vo[inside].any() and (co[inside] == 0).all()


def test_fill_gaps_short_filled_long_masked():
    T = 60
    P = np.zeros((T, 2, 3))
    P[:, :, 0] = np.arange(T)[:, None] * 10.0
    v = np.ones((T, 2), bool)
    v[10:15, 0] = False  # 5-frame gap -> filled
    v[20:45, 1] = False  # 25-frame gap -> masked
    v[:3, 0] = False  # touches the start -> masked
    P[~v] = 0
    out, vo, filled = fill_gaps(P, v, max_gap=10)
    assert filled[10:15, 0].all() and np.allclose(out[10:15, 0, 0], np.arange(10, 15) * 10.0)
    assert not vo[20:45, 1].any() and not vo[:3, 0].any()
    assert filled.sum() == 5


def test_invalid_values_and_velocity_spikes():
    P = walk_body(duration_s=2, treadmill=True)
    c = np.full(P.shape[:2], 2, np.uint8)
    P[5, J["HEAD"]] = np.nan
    P[6, J["KNEE_LEFT"]] = [1e267, 0, 0]
    P[7, J["WRIST_LEFT"]] += [0, 0, 15_000]  # 15 m away from the body
    c[8, J["NOSE"]] = 0
    bad = invalid_values(P, c)
    assert bad[5, J["HEAD"]] and bad[6, J["KNEE_LEFT"]] and bad[7, J["WRIST_LEFT"]] and bad[8, J["NOSE"]]
    assert bad.sum() == 4
    Q = walk_body(duration_s=2, treadmill=True)
    Q[20, J["ELBOW_RIGHT"]] += [400, 300, 0]  # a 1-frame teleport of 0.5 m
    sp = velocity_spikes(Q, np.ones(Q.shape[:2], bool), 30.0)
    assert sp[20, J["ELBOW_RIGHT"]] and sp.sum() == 1


def test_bone_outliers_blame_the_joint_not_its_neighbours():
    P = walk_body(duration_s=3, treadmill=True)
    P[40, J["WRIST_LEFT"]] += [0, 250, 0]  # leaf-side joint (has hand children) displaced
    P[50, J["FOOT_RIGHT"]] += [0, 0, 300]  # a leaf
    bad, med = bone_outliers(P, np.ones(P.shape[:2], bool))
    assert bad[40, J["WRIST_LEFT"]] and bad[50, J["FOOT_RIGHT"]]
    assert not bad[40, J["ELBOW_LEFT"]] and not bad[40, J["HAND_LEFT"]] and not bad[50, J["ANKLE_RIGHT"]]
    assert bad.sum() == 2
    assert med[J["KNEE_LEFT"]] == pytest.approx(450, abs=5)  # thigh length of the walker


def test_leg_swaps_detected_and_undone():
    P = walk_body(duration_s=6, treadmill=True)
    orig = P.copy()
    perm = np.arange(32)
    perm[LEFT_LEG], perm[RIGHT_LEG] = RIGHT_LEG, LEFT_LEG
    P[60:75] = P[60:75][:, perm]  # tracker swapped the legs for half a second
    v = np.ones(P.shape[:2], bool)
    sw = leg_swaps(P, v)
    assert sw[60:75].all() and sw.sum() == 15
    fixed, _, _ = unswap_legs(P, v, np.full(P.shape[:2], 2, np.uint8), sw)
    assert np.allclose(fixed, orig)
    assert not leg_swaps(orig, v).any()  # normal gait (legs passing each other) is not a swap


def test_median3_removes_single_frame_spike_and_keeps_edges():
    x = np.zeros((7, 1, 3))
    x[3, 0, 0] = 100.0
    x[0, 0, 1] = 5.0
    out = median3(x)
    assert out[3, 0, 0] == 0.0 and out[0, 0, 1] == 5.0
    ramp = np.arange(10, dtype=float).reshape(10, 1, 1) * np.ones((1, 2, 3))
    assert np.allclose(median3(ramp), ramp)


def test_normalise_pelvis_centre_unit_sphere_confidence():
    P = walk_body(duration_s=1, treadmill=True)
    v = np.ones(P.shape[:2], bool)
    c = np.full(P.shape[:2], 2, np.uint8)
    c[:, J["HEAD"]] = 1
    v[3, J["WRIST_LEFT"]] = False
    x, m, scale = normalise(P, v, c)
    assert x.shape == (P.shape[0], 26, 4) and m.shape == (P.shape[0], 26)
    assert np.allclose(x[:, 0, :3], 0)  # pelvis at the origin
    r = np.linalg.norm(x[..., :3], axis=2)
    assert np.allclose(r.max(axis=1), 1.0, atol=1e-5)  # furthest joint on the unit sphere
    head = MODEL26.index("HEAD")
    assert np.allclose(x[:, head, 3], 0.5) and np.allclose(x[:, 0, 3], 1.0)
    w = MODEL26.index("WRIST_LEFT")
    assert not m[3, w] and (x[3, w] == 0).all()
    # errors in normalised units convert back to mm with the per-frame scale
    k = MODEL26.index("KNEE_LEFT")
    d_norm = np.linalg.norm(x[:, k, :3] - x[:, 0, :3], axis=1)
    d_mm = np.linalg.norm(P[:, J["KNEE_LEFT"]] - P[:, 0], axis=1)
    assert np.allclose(denormalise_error(d_norm, scale), d_mm, rtol=1e-4)


def test_windows_policy():
    w = make_windows([("treadmill_3kmh", 0, 5400), ("sit_to_stand", 5400, 6299), ("romberg_eyes_closed", 6299, 6500)])
    tm = [x for x in w if x.task == "treadmill_3kmh"]
    assert len(tm) == 6 and all(x.n_valid == 900 for x in tm)
    sts = [x for x in w if x.task == "sit_to_stand"]
    assert len(sts) == 1 and sts[0].n_valid == 899  # kept and padded (>= 300 frames)
    assert not [x for x in w if x.task == "romberg_eyes_closed"]  # 201 frames < 300: dropped
    x = np.ones((6500, 26, 4), np.float32)
    m = np.ones((6500, 26), bool)
    xs, ms = stack_windows(x, m, sts)
    assert xs.shape == (1, 900, 26, 4) and ms[0, :899].all() and not ms[0, 899].any() and (xs[0, 899] == 0).all()
    assert len(make_windows([("walk_in_place", 0, 1000)], length=300, min_last=50)) == 4
