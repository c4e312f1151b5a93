"""QC per session and per joint, and `gaitfm inspect`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaitcore.cli import main
from gaitcore.qc import jitter_per_joint, session_qc
from gaitcore.schemas import AZURE32, Confidence
from gaitcore.sessionfile import Session, TaskSegment, write_session


def _session(t: int = 60) -> Session:
    pos = np.zeros((t, 32, 3), np.float32)
    pos[:, :, 2] = np.arange(t)[:, None] * 10.0  # uniform motion: zero second difference
    conf = np.full((t, 32), int(Confidence.MEDIUM), np.uint8)
    conf[:, AZURE32.index("NOSE")] = Confidence.NONE  # not provided
    conf[:6, AZURE32.index("KNEE_LEFT")] = Confidence.NONE  # 10 % missing
    conf[:15, AZURE32.index("FOOT_LEFT")] = Confidence.LOW  # 25 % low
    pos[:, AZURE32.index("WRIST_RIGHT"), 0] = np.where(np.arange(t) % 2, 1.0, -1.0)  # +-1 mm flicker
    meta = {"import": {"status": "repaired", "repaired_frames": 3,
                       "repaired_per_joint": [3 if j == 0 else 0 for j in range(32)]}}
    ts = np.rint(np.arange(t) * 1e6 / 30).astype(np.int64)
    return Session(pos, conf, ts, "s01", "azure_kinect", [TaskSegment("walk_in_place", 0, t)], meta, "id1")


def test_session_and_joint_qc() -> None:
    qc = session_qc(_session())
    j = {x.joint: x for x in qc.joints}
    assert qc.joints_provided == 31 and not j["NOSE"].provided
    assert j["KNEE_LEFT"].fraction_missing == pytest.approx(0.1)
    assert j["FOOT_LEFT"].fraction_low_confidence == pytest.approx(0.25)
    assert j["PELVIS"].jitter_mm == pytest.approx(0.0, abs=1e-6)  # uniform motion
    assert j["WRIST_RIGHT"].jitter_mm == pytest.approx(4.0, abs=1e-6)  # +-1 flicker: |1 - 2(-1) + 1| = 4
    assert qc.fraction_missing == pytest.approx(0.1 / 31)
    assert qc.repaired_frames == 3 and j["PELVIS"].repaired_frames == 3
    assert qc.frame_rate_hz == pytest.approx(30.0, abs=0.01)
    json.dumps(qc.to_dict())


def test_jitter_ignores_invalid_triples_and_gaps() -> None:
    pos = np.zeros((10, 1, 3))
    pos[5, 0, 0] = 100.0  # spike, but frame 5 is invalid
    valid = np.ones((10, 1), bool)
    valid[5] = False
    ts = np.arange(10) * 33_333
    assert jitter_per_joint(pos, valid, ts)[0] == 0.0
    assert np.isnan(jitter_per_joint(pos[:2], valid[:2], ts[:2])[0])


def test_gaitfm_inspect(tmp_path, capsys) -> None:
    path = write_session(_session(), tmp_path / "s")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    for text in ("subject   s01", "sensor    azure_kinect", "walk_in_place", "KNEE_LEFT", "10.0%",
                 "QC FAILED: 2.0 s long, under the 10 s a model window needs",
                 "31/32 joints provided", "repaired frames 3", "NOSE"):
        assert text in out, text
    assert main(["inspect", "--json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["subject"] == "s01" and len(doc["joints"]) == 32


def test_gaitfm_inspect_bad_file(tmp_path, capsys) -> None:
    bad = tmp_path / "x.gait.npz"
    bad.write_bytes(b"nope")
    assert main(["inspect", str(bad)]) == 1
    assert "not a session file" in capsys.readouterr().out


def _two_task_session(lost_second: float = 0.0, second_s: float = 12.0) -> Session:
    """A 15-s walk, then a second task of ``second_s`` seconds with ``lost_second`` of its joint samples lost."""
    n1, n2 = 450, int(round(second_s * 30))
    t = n1 + n2
    pos = np.zeros((t, 32, 3), np.float32)
    pos[:, :, 0] = np.arange(t)[:, None] * 40.0
    conf = np.full((t, 32), int(Confidence.MEDIUM), np.uint8)
    rng = np.random.default_rng(0)
    conf[n1:][rng.random((n2, 32)) < lost_second] = Confidence.NONE
    ts = np.rint(np.arange(t) * 1e6 / 30).astype(np.int64)
    return Session(pos, conf, ts, "s01", "azure_kinect",
                   [TaskSegment("treadmill_self_selected", 0, n1), TaskSegment("overground_walk", n1, t)], {}, "id2")


def test_task_qc_gives_each_task_its_verdict_and_reason() -> None:
    from gaitcore.qc import session_issues

    qc = session_qc(_two_task_session(lost_second=0.8))
    walk, over = qc.tasks
    assert (walk.task, walk.start, walk.n_frames) == ("treadmill_self_selected", 0, 450)
    assert walk.passed and walk.issues == [] and walk.fraction_missing == 0.0
    assert walk.duration_s == pytest.approx(15.0, abs=0.01)
    assert not over.passed and over.fraction_missing == pytest.approx(0.8, abs=0.03)
    assert over.issues == [f"{over.fraction_missing:.0%} of joint samples are missing"]
    # the session gate looks at the whole recording: 0.8 x 12 / 27 s = 36 % missing, so it passes
    assert qc.fraction_missing == pytest.approx(0.8 * 360 / 810, abs=0.02) and session_issues(qc) == []
    json.dumps(qc.to_dict())


def test_task_shorter_than_a_model_window_fails_its_own_qc() -> None:
    from gaitcore.preprocess.windows import DEFAULT_WINDOW, make_windows
    from gaitcore.qc import MIN_TASK_S

    assert MIN_TASK_S * 30 == DEFAULT_WINDOW // 3  # the preprocessing's shortest window, in seconds
    qc = session_qc(_two_task_session(second_s=7.0))
    over = qc.tasks[1]
    assert not over.passed and over.issues == ["7.0 s long, under the 10 s a model window needs"]
    assert make_windows([(over.task, 0, over.n_frames)]) == []  # ... and indeed gets no window
    assert qc.tasks[0].passed


def test_session_issues_missing_and_frame_rate() -> None:
    from gaitcore.qc import session_issues

    s = _two_task_session(lost_second=1.0, second_s=40.0)  # 40 of 55 s lost
    assert session_issues(session_qc(s)) == ["73% of joint samples are missing"]
    s.timestamps_us[:] = np.rint(np.arange(s.n_frames) * 1e6 / 15).astype(np.int64)
    assert "frame rate 15.0 Hz (expected 30 Hz)" in session_issues(session_qc(s))
