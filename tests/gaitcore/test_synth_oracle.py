"""The oracle table holds the numbers a synthetic session was really generated from."""

import csv
import json
import math

import pytest

from gaitcore.sessionfile import read_session
from gaitcore.synth.cohort import build_session, generate_cohort
from gaitcore.synth.oracle import oracle_rows, session_numbers

TASKS = ("treadmill_self_selected", "sit_to_stand", "romberg_eyes_closed")


@pytest.mark.parametrize("index", [3, 8])
def test_oracle_matches_what_the_session_was_made_from(index):
    session, row = build_session(5, index, 0, tasks=TASKS, duration_scale=0.2)
    meta, nums = session.metadata, session_numbers(5, index, 0)
    # body dimensions and chair-stand rate are stored exactly by the generator
    for k in ("thigh", "shank", "upper_arm", "forearm"):
        assert nums["body"][f"body_{k}"] == pytest.approx(meta["body_mm"][k], abs=0.06)
    assert nums["sit_to_stand"]["sts_reps_per_30s"] == pytest.approx(meta["truth"]["sit_to_stand"]["reps_per_30s"], abs=1e-3)
    assert math.exp(nums["romberg_eyes_closed"]["log_romberg_sway_ap_mm"]) == pytest.approx(
        meta["truth"]["romberg_eyes_closed"]["sway_target_ap_mm"], abs=1e-3)
    # intended treadmill speed vs the realised one (stride-to-stride variation only)
    realised = meta["truth"]["treadmill_self_selected"]["speed_mps"]
    assert nums["treadmill_self_selected"]["speed"] == pytest.approx(realised, rel=0.03)
    assert nums["body"]["body_height_mm"] == pytest.approx(meta["covariates"]["height_m"] * 1000, abs=0.1)
    # generator 1.1's ageing posture, as the walk's truth records it
    for k in ("thoracic_flex", "hip_ext_loss", "pelvis_tilt", "pushoff_loss"):
        assert nums["treadmill_self_selected"][k] == pytest.approx(meta["truth"]["treadmill_self_selected"][f"{k}_deg"], abs=1e-3)
    assert nums["romberg_eyes_closed"]["thoracic_flex"] == nums["treadmill_self_selected"]["thoracic_flex"]


def test_layouts_and_cohort_ids(tmp_path):
    generate_cohort(tmp_path, 3, seed=2, tasks=TASKS, duration_scale=0.1)
    subjects = [r["subject"] for r in csv.DictReader(open(tmp_path / "phenotypes.csv"))]
    sessions = sorted(p.name.split(".")[0] for p in (tmp_path / "sessions").iterdir())
    m = json.loads((tmp_path / "manifest.json").read_text())
    rows = [oracle_rows(m["seed"], i, 0, "all", TASKS)[0] for i in (1, 2, 3)]
    assert [r["session_id"] for r in rows] == sessions
    assert [r["subject"] for r in rows] == subjects
    assert read_session(tmp_path / "sessions" / f"{sessions[0]}.gait.npz").subject == oracle_rows(2, 1)[0]["subject"]
    per_task = oracle_rows(2, 1, 0, "tasks", TASKS)
    assert [r["task"] for r in per_task] == list(TASKS)
    assert "sts_reps_per_30s" in per_task[1] and "cadence" not in per_task[1]
    assert "treadmill_self_selected:speed" in oracle_rows(2, 1, 0, "all", TASKS)[0]
    with pytest.raises(ValueError, match="layout"):
        oracle_rows(2, 1, 0, "wide")
