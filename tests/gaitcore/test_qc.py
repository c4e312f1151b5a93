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
