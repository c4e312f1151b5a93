"""The whole preprocessing chain: a multi-task session with damage, model windows per task."""

from __future__ import annotations

import numpy as np
import pytest

from gaitcore.preprocess import (
    PREPROCESSING_VERSION,
    Preprocessed,
    model_windows,
    model_windows_by_task,
    preprocess,
)
from gaitcore.schemas import MODEL26
from gaitcore.sessionfile import Session, TaskSegment
from tests.gaitcore.walker import FS, J, sit_to_stand_body, stand_body, to_frame, walk_body


def _protocol_session(damage: bool = True) -> Session:
    parts = [("treadmill_3kmh", walk_body(duration_s=70, treadmill=True, cadence=100, step_length_m=0.42)),
             ("walk_in_place", walk_body(duration_s=20, in_place=True)),
             ("sit_to_stand", sit_to_stand_body(30, reps=8)),
             ("romberg_eyes_closed", stand_body(30))]
    P = np.concatenate([p for _, p in parts])
    segs, pos = [], 0
    for name, p in parts:
        segs.append(TaskSegment(name, pos, pos + p.shape[0]))
        pos += p.shape[0]
    S = to_frame(P, "camera_y_down", yaw_deg=10)
    T = S.shape[0]
    conf = np.full((T, 32), 2, np.uint8)
    rng = np.random.default_rng(3)
    if damage:
        S[100:104, J["KNEE_LEFT"]] = np.nan  # short gap -> filled
        S[500:560, J["WRIST_RIGHT"]] = np.nan  # 2 s gap -> masked
        conf[700:705, J["HEAD"]] = 0
        S[900, J["ANKLE_RIGHT"]] += [600, 0, 0]  # teleport
    ts = np.round(np.arange(T) * 1e6 / FS).astype(np.int64)
    if damage:
        ts = ts + rng.integers(-2500, 2500, T)  # jittery clock -> resampled
        ts[0] = 0
    return Session(S.astype(np.float32), conf, ts, "s1", "azure_kinect", segs, {"belt_speed_m_s": 0.8333}, "sess1")


@pytest.fixture(scope="module")
def pre() -> Preprocessed:
    return preprocess(_protocol_session())


def test_outputs_and_shapes(pre):
    T = pre.n_frames
    assert pre.version == PREPROCESSING_VERSION and pre.record["version"] == PREPROCESSING_VERSION
    assert pre.positions.shape == (T, 32, 3) and pre.positions.dtype == np.float32
    assert pre.model_input.shape == (T, 26, 4) and pre.mask.shape == (T, 26)
    assert np.isfinite(pre.model_input).all()
    assert np.allclose(np.diff(pre.timestamps_us), 1e6 / 30, atol=1)
    assert [s.task for s in pre.tasks] == ["treadmill_3kmh", "walk_in_place", "sit_to_stand", "romberg_eyes_closed"]
    assert pre.tasks[0].end == pytest.approx(2100, abs=2)
    # masked samples are NaN in metric positions and zero in model input
    assert (np.isnan(pre.positions) == ~pre.valid[..., None]).all()
    assert (pre.model_input[~pre.mask] == 0).all()


def test_repairs_recorded(pre):
    rec = pre.record
    assert rec["resample"]["resampled"]
    assert rec["gaps"]["filled_samples"] >= 4
    w = MODEL26.index("WRIST_RIGHT")
    a = pre.tasks[0].start
    assert not pre.mask[a + 520, w]  # the 2 s hole stays masked
    assert rec["outliers"]["velocity_spike_samples"] >= 1
    assert pre.repairs and all(isinstance(r, str) for r in pre.repairs)
    for task in ("treadmill_3kmh", "sit_to_stand", "romberg_eyes_closed"):
        assert rec["body_frame"][task]["mirrored_labels_fixed"] is False


def test_model_windows_per_task(pre):
    x, m, wins = model_windows(pre, "treadmill_3kmh")
    assert x.shape == (3, 900, 26, 4) and m.shape == (3, 900, 26)  # 70 s: 2 full windows + 10 s rest kept
    assert [w.n_valid for w in wins] == [900, 900, pre.tasks[0].end - pre.tasks[0].start - 1800]
    assert not m[2, wins[2].n_valid:].any()
    byt = model_windows_by_task(pre)
    assert set(byt) == {"treadmill_3kmh", "walk_in_place", "sit_to_stand", "romberg_eyes_closed"}
    assert byt["walk_in_place"][0].shape[0] == 1  # 20 s: one padded window
    xs, ms, ws = byt["sit_to_stand"]
    assert xs.shape == (1, 900, 26, 4) and ms[0].any()
    # window content is the normalised input: pelvis at the origin, inside the unit sphere
    assert np.allclose(xs[0][ms[0][:, 0]][:, 0, :3], 0)
    assert np.linalg.norm(xs[..., :3], axis=-1).max() <= 1.0 + 1e-5


def test_same_walk_in_any_frame_gives_same_model_input():
    P = walk_body(duration_s=10, treadmill=True)
    outs = []
    for kind in ("floor_z_up", "camera_y_up", "camera_y_down"):
        S = to_frame(P, kind, yaw_deg=50)
        T = S.shape[0]
        sess = Session(S.astype(np.float32), np.full((T, 32), 2, np.uint8),
                       np.arange(T) * 33_333, "s", "synthetic", [TaskSegment("treadmill_3kmh", 0, T)])
        outs.append(preprocess(sess).model_input)
    assert np.abs(outs[0] - outs[1]).max() < 0.02 and np.abs(outs[0] - outs[2]).max() < 0.02


def test_session_without_tasks_and_all_missing_joint():
    P = walk_body(duration_s=4, treadmill=True)
    T = P.shape[0]
    conf = np.full((T, 32), 2, np.uint8)
    conf[:, J["NOSE"]] = 0  # a joint this sensor lacks
    sess = Session(P.astype(np.float32), conf, np.arange(T) * 33_333, "s", "kinect_v2")
    pre = preprocess(sess)
    assert not pre.valid[:, J["NOSE"]].any() and pre.valid[:, J["PELVIS"]].all()
    assert len(pre.windows) == 0  # 120 frames < 300: no window
    assert pre.record["body_frame"]["(outside tasks)"]["heading_mode"] == "fixed"


def test_pauses_between_tasks_belong_to_no_task():
    """Tasks recorded with pauses between them (timestamp gaps): on the 30 Hz grid each task segment
    covers its own recorded frames only, so a pause never makes up a task's window, and it is not
    reported as a repair."""
    parts = [("walk_in_place", walk_body(duration_s=8, in_place=True)),
             ("romberg_eyes_closed", stand_body(8)),
             ("sit_to_stand", sit_to_stand_body(12, reps=4))]
    P = np.concatenate([p for _, p in parts])
    segs, pos, ts, t0 = [], 0, [], 0
    for name, p in parts:
        segs.append(TaskSegment(name, pos, pos + p.shape[0]))
        pos += p.shape[0]
        ts.append(t0 + np.round(np.arange(p.shape[0]) * 1e6 / FS).astype(np.int64))
        t0 = int(ts[-1][-1]) + 6_000_000  # a 6-s pause before the next task
    S = to_frame(P, "camera_y_down")
    session = Session(S.astype(np.float32), np.full((len(S), 32), 2, np.uint8), np.concatenate(ts), "s1",
                      "azure_kinect", segs, {}, "paused")
    pre = preprocess(session, min_last=300)
    assert pre.record["resample"]["resampled"]
    lengths = {t.task: t.end - t.start for t in pre.tasks}
    assert lengths == {"walk_in_place": 240, "romberg_eyes_closed": 240, "sit_to_stand": 360}
    for t in pre.tasks:  # every frame of a segment was recorded (nothing masked wholesale at its ends)
        assert pre.valid[t.start:t.end].any(axis=1).all()
    # 8-s tasks (240 frames) stay below the 300-frame rule although each has 6-s pauses on both sides
    assert [(w.task, w.n_valid) for w in pre.windows] == [("sit_to_stand", 360)]
    assert not any("masked frames" in r for r in pre.repairs)
