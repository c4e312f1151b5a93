"""The phenotype truth holds in data: gait-linked factors explain variance beyond the covariates
exactly where truth.json says so; the synth-report command runs without real data."""

import json

import numpy as np

from gaitcore.cli import main
from gaitcore.synth.phenotypes import (
    GAIT_LINKED,
    NO_GAIT_SYSTEMS,
    PHENOTYPES,
    draw_subject,
    phenotype_values,
    truth,
)


def _r2(x, y):
    x = np.column_stack([np.ones(len(y)), x])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return 1 - np.var(y - x @ beta) / np.var(y)


def test_gain_beyond_covariates_only_where_truth_says():
    rng = np.random.default_rng(0)
    subs = [draw_subject(i, rng) for i in range(1500)]
    rows = [phenotype_values(s, rng) for s in subs]
    cov = np.array([[*s.covariates().values()] for s in subs])
    gl = np.array([[s.latents[k] for k in GAIT_LINKED] for s in subs])
    t = truth()["phenotypes"]
    for p in PHENOTYPES:
        if p.transform == "binary":
            continue
        y = np.array([r[p.name] for r in rows])
        y = np.log(y) if p.transform == "log" else y
        gain = _r2(np.hstack([cov, gl]), y) - _r2(cov, y)
        if t[p.name]["gait_signal_beyond_covariates"]:
            assert gain > 0.01, p.name
        else:
            assert gain < 0.01, p.name
            assert p.system in NO_GAIT_SYSTEMS or any(
                not q.gait_factors for q in PHENOTYPES if q.system == p.system)


def test_synth_report_without_real_data(tmp_path):
    syn, rep = tmp_path / "syn", tmp_path / "rep"
    assert main(["synth", "--subjects", "3", "--seed", "4", "--out", str(syn), "--duration-scale", "0.34",
                 "--tasks", "overground_walk", "--no-progress"]) == 0
    assert main(["synth-report", "--synthetic", str(syn), "--out", str(rep)]) == 0
    for f in ("normative.json", "normative.csv", "normative.md", "realism.md", "report.md",
              "normative_age.png", "realism_stats.png", "gait_cycle_curves.png"):
        assert (rep / f).stat().st_size > 0, f
    rows = json.loads((rep / "normative.json").read_text())["rows"]
    truth_speed = [r for r in rows if r["feature"] == "walking_speed_m_s" and r["source"] == "generator truth"][0]
    assert 0.9 < truth_speed["median"] < 1.8
