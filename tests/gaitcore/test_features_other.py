"""Romberg, sit-to-stand, the catalogue and its docs, the feature API contract and `gaitfm features`."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from gaitcore.cli import main as gaitfm
from gaitcore.features import FEATURES, FeatureSet, compute_task_features, features_for_task, render_markdown
from gaitcore.schemas import TASKS
from gaitcore.sessionfile import Session, TaskSegment, write_session
from tests.gaitcore.walker import FS, make_session, sit_to_stand_body, stand_body, to_frame, walk_body

ROOT = Path(__file__).resolve().parents[2]


def test_romberg_sway_known_amplitudes():
    ml, ap = 15.0, 10.0
    P = stand_body(30, sway_ml_mm=ml, sway_ap_mm=ap)
    fs = compute_task_features(make_session(to_frame(P, "camera_y_down", yaw_deg=15), "romberg_eyes_closed"))
    v = fs.values
    # truth from the noise-free centre-of-mass proxy (mean of pelvis and navel) of the same sway
    t = np.arange(P.shape[0]) / FS
    h = (P[:, 0, 2].mean() + P[:, 1, 2].mean()) / 2 / 900.0
    x = ap * h * np.sin(2 * np.pi * 0.2 * t + 1.0)
    y = ml * h * np.sin(2 * np.pi * 0.3 * t)
    path = np.sum(np.hypot(np.diff(x), np.diff(y)))
    assert v["romberg_sway_path_mm"] == pytest.approx(path, rel=0.15)
    assert v["romberg_sway_velocity_mm_s"] == pytest.approx(path / 30.0, rel=0.15)
    area = np.pi * 5.991 * (ml * h / np.sqrt(2)) * (ap * h / np.sqrt(2))
    assert v["romberg_sway_area_mm2"] == pytest.approx(area, rel=0.2)
    assert set(v) >= {"trunk_sway_ml_mm", "trunk_sway_ap_mm", "head_vertical_sway_mm", "wrist_sway_mm"}
    assert "cadence_steps_min" not in v and "cadence_steps_min" not in fs.missing
    # more sway -> larger path and area
    v2 = compute_task_features(make_session(stand_body(30, 30.0, 20.0), "romberg_eyes_closed")).values
    assert v2["romberg_sway_path_mm"] > 1.5 * v["romberg_sway_path_mm"]
    assert v2["romberg_sway_area_mm2"] > 3 * v["romberg_sway_area_mm2"]


@pytest.mark.parametrize("reps", [5, 8, 12])
def test_sit_to_stand_repetitions(reps):
    P = sit_to_stand_body(30, reps=reps)
    v = compute_task_features(make_session(to_frame(P, "floor_z_up"), "sit_to_stand")).values
    assert v["sts_repetitions"] == reps
    assert v["sts_time_per_rep_s"] == pytest.approx(30.0 / reps, rel=0.05)
    assert v["knee_rom_left_deg"] > 40  # seated knees are bent


def test_standing_still_is_not_a_sit_to_stand():
    fs = compute_task_features(make_session(stand_body(30), "sit_to_stand"))
    assert "sts_repetitions" not in fs.values and "150 mm" in fs.missing["sts_repetitions"]


def test_catalogue_is_data_and_docs_are_in_sync():
    assert len(FEATURES) >= 20
    names = [f.name for f in FEATURES]
    assert len(set(names)) == len(names)
    for f in FEATURES:
        assert f.unit and f.description and f.tasks and set(f.tasks) <= set(TASKS)
    for t in TASKS:
        assert features_for_task(t), t
    doc = (ROOT / "docs" / "features.md").read_text()
    assert render_markdown() in doc, "regenerate docs/features.md (python -m gaitcore.features.catalogue)"


def test_api_contract_every_task():
    walks = {"walk_in_place": walk_body(duration_s=10, in_place=True),
             "sit_to_stand": sit_to_stand_body(20, reps=6),
             "romberg_eyes_closed": stand_body(20)}
    for task in TASKS:
        P = walks.get(task, walk_body(duration_s=10, treadmill=task.startswith("treadmill")))
        fs = compute_task_features(make_session(P, task))
        assert isinstance(fs, FeatureSet) and fs.task == task
        want = set(features_for_task(task))
        assert set(fs.values) | set(fs.missing) == want
        assert all(isinstance(x, float) and math.isfinite(x) for x in fs.values.values())
        assert all(isinstance(r, str) and r for r in fs.missing.values())


def test_task_none_and_session_without_tasks():
    P = walk_body(duration_s=8, treadmill=False)
    S = make_session(P, "overground_walk")
    assert compute_task_features(S).task == "overground_walk"
    T = P.shape[0]
    bare = Session(P.astype(np.float32), np.full((T, 32), 2, np.uint8), np.arange(T) * 33_333, "s", "kinect_v2")
    fs = compute_task_features(bare)
    assert fs.task == "overground_walk" and "task_assumed" in fs.details
    with pytest.raises(ValueError):
        compute_task_features(S, "no_such_task")


def test_cli_features_csv(tmp_path, capsys):
    a = walk_body(duration_s=12, treadmill=True, cadence=100, step_length_m=0.5)
    b = stand_body(30)
    P = np.concatenate([a, b])
    T = P.shape[0]
    s1 = Session(P.astype(np.float32), np.full((T, 32), 2, np.uint8), np.arange(T) * 33_333, "subjA", "synthetic",
                 [TaskSegment("treadmill_self_selected", 0, a.shape[0]), TaskSegment("romberg_eyes_closed", a.shape[0], T)],
                 {}, "sess-1")
    write_session(s1, tmp_path / "in" / "one.gait.npz")
    write_session(make_session(sit_to_stand_body(30, 6), "sit_to_stand", session_id="sess-2"), tmp_path / "in" / "sub" / "two")
    out = tmp_path / "features.csv"
    reasons = tmp_path / "reasons.csv"
    rc = gaitfm(["features", str(tmp_path / "in"), "-o", str(out), "--reasons", str(reasons)])
    assert rc == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["session_id"], r["task"]) for r in rows] == [
        ("sess-1", "treadmill_self_selected"), ("sess-1", "romberg_eyes_closed"), ("sess-2", "sit_to_stand")]
    header = next(csv.reader(out.open()))
    assert header[:3] == ["session_id", "subject", "task"] and header[3:] == [f.name for f in FEATURES]
    assert float(rows[0]["cadence_steps_min"]) == pytest.approx(100, rel=0.02)
    assert rows[0]["romberg_sway_path_mm"] == "" and rows[1]["romberg_sway_path_mm"] != ""
    assert float(rows[2]["sts_repetitions"]) == 6
    assert "2 sessions" in capsys.readouterr().err
    assert reasons.exists()
    # a broken file is reported, the others still processed
    (tmp_path / "in" / "bad.gait.npz").write_bytes(b"not a zip")
    rc = gaitfm(["features", str(tmp_path / "in"), "-o", str(out)])
    assert rc == 1 and len(list(csv.DictReader(out.open()))) == 3
    assert "FAILED" in capsys.readouterr().err


def _degenerate_cases():
    from tests.gaitcore.walker import J

    W = walk_body(duration_s=5)
    cases = {"1 frame": W[:1], "2 frames": W[:2], "10 frames": W[:10], "all zero": np.zeros((100, 32, 3)),
             "frozen": np.repeat(W[:1], 100, axis=0)}
    P = W.copy()
    P[:] = np.nan
    cases["all NaN"] = P
    P = W.copy()
    P[:, [J["HIP_LEFT"], J["HIP_RIGHT"], J["SHOULDER_LEFT"], J["SHOULDER_RIGHT"]]] = np.nan
    cases["no hips or shoulders"] = P
    P = W.copy()
    P[:, 0] = np.nan
    cases["no pelvis"] = P
    P = W.copy()
    P[::2] = np.nan
    cases["every other frame missing"] = P
    return cases


@pytest.mark.parametrize("name", list(_degenerate_cases()))
def test_degenerate_input_never_crashes(name):
    P = _degenerate_cases()[name]
    T = P.shape[0]
    for task in TASKS:
        s = Session(P.astype(np.float32), np.full((T, 32), 2, np.uint8), np.arange(T) * 33_333, "s", "synthetic",
                    [TaskSegment(task, 0, T)])
        fs = compute_task_features(s)
        assert all(math.isfinite(v) for v in fs.values.values())
        assert set(fs.values) | set(fs.missing) == set(features_for_task(task))


def test_body_size_features_measure_the_synthetic_body():
    """Segment lengths of a synthetic walk match the generator's body within 5 %; the stature proxy lies
    below the subject's height (it leaves out the foot and the crown) and above 80 % of it."""
    from gaitcore.features import compute_session_features
    from gaitcore.synth.cohort import build_session

    session, _ = build_session(3, 7, 0, tasks=["treadmill_3kmh"], duration_scale=0.17)
    fs = compute_session_features(session)[0]
    body = session.metadata["body_mm"]
    for name, key in (("thigh_length_mm", "thigh"), ("shank_length_mm", "shank"), ("upper_arm_length_mm", "upper_arm"),
                      ("forearm_length_mm", "forearm")):
        assert abs(fs.values[name] / body[key] - 1) < 0.05, (name, fs.values[name], body[key])
    assert fs.values["leg_length_mm"] == fs.values["thigh_length_mm"] + fs.values["shank_length_mm"]
    height_mm = 1000 * session.metadata["covariates"]["height_m"]
    assert 0.8 * height_mm < fs.values["estimated_stature_mm"] < height_mm
