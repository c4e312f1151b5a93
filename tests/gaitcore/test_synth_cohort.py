"""The cohort writer: determinism, streaming, files, truth and phenotype model shape."""

import csv
import hashlib
import json
import tracemalloc

import numpy as np
import pytest

from gaitcore.cli import main
from gaitcore.sessionfile import read_session
from gaitcore.synth.cohort import build_session, generate_cohort, subject_at_visit
from gaitcore.synth.phenotypes import GAIT_LINKED, NO_GAIT_SYSTEMS, PHENOTYPES, SYSTEMS, truth


def _digest(folder):
    h = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return h


def test_same_seed_byte_identical_any_workers(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(["synth", "--subjects", "3", "--seed", "7", "--out", str(a), "--duration-scale", "0.05",
                 "--visits", "2", "--no-progress"]) == 0
    assert main(["synth", "--subjects", "3", "--seed", "7", "--out", str(b), "--duration-scale", "0.05",
                 "--visits", "2", "--workers", "2", "--no-progress"]) == 0
    generate_cohort(c, 3, 8, duration_scale=0.05, visits=2)
    assert _digest(a) == _digest(b)
    assert _digest(a)["sessions/SYN00001_v0.gait.npz"] != _digest(c)["sessions/SYN00001_v0.gait.npz"]


def test_outputs(tmp_path):
    m = generate_cohort(tmp_path, 4, 1, duration_scale=0.05, visits=3, longitudinal_share=1.0)
    assert m["sessions"] == 12
    rows = list(csv.DictReader(open(tmp_path / "phenotypes.csv")))
    assert len(rows) == 12
    assert {"age", "sex", "height", "bmi", "vat"} <= set(rows[0])
    assert len([c for c in rows[0] if c in {p.name for p in PHENOTYPES}]) >= 60
    by = {(r["subject"], r["visit"]): r for r in rows}
    assert float(by[("SYN00001", "2")]["age"]) > float(by[("SYN00001", "0")]["age"]) + 2.5  # ageing
    t = json.loads((tmp_path / "truth.json").read_text())
    assert len(t["phenotypes"]) >= 60
    s = read_session(tmp_path / "sessions" / "SYN00002_v1.gait.npz")
    assert s.sensor == "synthetic" and s.subject == "SYN00002"
    assert [seg.task for seg in s.tasks] == ["treadmill_3kmh", "treadmill_self_selected", "walk_in_place",
                                             "sit_to_stand", "romberg_eyes_closed"]
    for task in ("treadmill_3kmh", "treadmill_self_selected"):
        tr = s.metadata["truth"][task]
        assert {"cadence_spm", "step_length_m", "speed_mps"} <= set(tr)
    assert np.all(np.diff(s.timestamps_us) > 0)


def test_intervention_lowers_frailty():
    deltas = {True: [], False: []}
    for i in range(1, 80):
        base, _ = subject_at_visit(3, i, 0, 1.0)
        later, _ = subject_at_visit(3, i, 1, 1.0)
        deltas[base.intervention].append(later.latents["frailty"] - base.latents["frailty"])
    assert np.mean(deltas[True]) < np.mean(deltas[False]) - 0.2


def test_streaming_memory_does_not_grow(tmp_path):
    def peak(n):
        tracemalloc.start()
        generate_cohort(tmp_path / f"n{n}", n, 2, tasks=("romberg_eyes_closed",), duration_scale=0.1)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    small, big = peak(2), peak(12)
    assert big < 1.5 * small + 2e6


def test_phenotype_model_shape():
    assert len(PHENOTYPES) >= 60
    assert {p.system for p in PHENOTYPES} == set(SYSTEMS) and len(SYSTEMS) == 18
    assert len(NO_GAIT_SYSTEMS) >= 3
    t = truth()
    for _name, d in t["phenotypes"].items():
        assert d["system"] in SYSTEMS and d["formula"]
        assert d["gait_signal_beyond_covariates"] == bool(set(d["loadings"]) & set(GAIT_LINKED))
    for s in NO_GAIT_SYSTEMS:
        assert not t["systems"][s]["gait_signal"]
        assert all(not d["gait_signal_beyond_covariates"] for d in t["phenotypes"].values() if d["system"] == s)


def test_latent_factors_move_gait_in_the_documented_direction():
    from gaitcore.synth.phenotypes import draw_subject
    from gaitcore.synth.subject import movement_params

    s = draw_subject(1, np.random.default_rng(0))

    def params(**lat):
        s2 = type(s)(**{**s.__dict__, "latents": {**s.latents, **lat}})
        return movement_params(s2, np.random.default_rng(5))

    lo, hi = params(mood=-1.5), params(mood=1.5)
    assert hi["overground_walk"].arm_swing < lo["overground_walk"].arm_swing
    assert hi["overground_walk"].speed < lo["overground_walk"].speed
    assert params(sleep_debt=2)["overground_walk"].trunk_sway > params(sleep_debt=-2)["overground_walk"].trunk_sway
    assert params(sarcopenia=2)["overground_walk"].step_length < params(sarcopenia=-2)["overground_walk"].step_length
    assert params(frailty=2)["sts_reps_per_30s"] < params(frailty=-2)["sts_reps_per_30s"]
    assert params(frailty=2)["romberg_sway_ap_mm"] > params(frailty=-2)["romberg_sway_ap_mm"]


def test_cohort_gait_plausible_and_ages():
    speeds, ages = [], []
    for i in range(1, 25):
        s, _ = build_session(11, i, 0, tasks=("treadmill_3kmh",), duration_scale=0.05)
        tr = s.metadata["truth"]["treadmill_3kmh"]
        assert 75 < tr["cadence_spm"] < 125
        assert 0.35 < tr["step_length_m"] < 0.75
        assert tr["speed_mps"] == pytest.approx(0.833, rel=0.08)
    from gaitcore.synth.phenotypes import draw_subject
    from gaitcore.synth.subject import movement_params

    for i in range(300):
        r = np.random.default_rng(i)
        s = draw_subject(i, r)
        speeds.append(movement_params(s, r)["overground_walk"].speed)
        ages.append(s.age)
    speeds, ages = np.array(speeds), np.array(ages)
    assert 1.2 < np.median(speeds) < 1.5
    assert np.corrcoef(ages, speeds)[0, 1] < -0.1


def test_refuses_to_mix_cohorts(tmp_path):
    args = ["synth", "--subjects", "2", "--seed", "1", "--out", str(tmp_path), "--duration-scale", "0.05",
            "--tasks", "romberg_eyes_closed", "--no-progress"]
    assert main(args) == 0
    assert main(args) == 2
    assert main(args[:2] + ["1"] + args[3:] + ["--overwrite"]) == 0
    assert len(list((tmp_path / "sessions").glob("*.gait.npz"))) == 1
