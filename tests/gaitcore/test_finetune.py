"""finetune-heads: the representation is chosen per target by inner CV, the artifact is coefficients only,
the fit stops between folds when asked, and the gate's comparison says why a candidate is worse."""

from __future__ import annotations

import numpy as np
import pytest

from gaitcore.probe.finetune import (
    Cancelled,
    FitConfig,
    compare,
    evaluate,
    fit_heads,
    representation_columns,
    session_row,
)
from gaitcore.probe.predictor import Predictor


def panel(n=240, seed=0):
    rng = np.random.default_rng(seed)
    E, G, B = rng.normal(size=(n, 48)), rng.normal(size=(n, 12)), rng.normal(size=(n, 6))
    cols = [f"emb:{i:04d}" for i in range(48)] + [f"gait:g{i}" for i in range(12)] + [f"body:b{i}" for i in range(6)]
    Y = np.c_[50 + 6 * E[:, 0] + rng.normal(size=n),  # embedding
              170 + 8 * B[:, 0] + rng.normal(size=n),  # body size
              1.2 + 0.2 * G[:, 2] + 0.02 * rng.normal(size=n),  # gait
              (G[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(float)]  # binary, gait
    X = np.c_[E, G, B]
    X[rng.random(X.shape) < 0.02] = np.nan
    return X, cols, Y, ["age", "height", "speed", "falls"]


def test_each_target_gets_the_representation_that_carries_it_and_the_artifact_is_coefficients_only(tmp_path):
    X, cols, Y, targets = panel()
    sex = np.where(np.arange(len(X)) % 2, "M", "F").astype(object)
    seen = []
    p = fit_heads(X, cols, Y, np.arange(len(X)), sex, FitConfig(targets=targets, sex_specific=("age",)),
                  embedding_model_version="enc-1", source="test", progress=seen.append)
    chosen = {k: v["chosen"] for k, v in p.meta["representation"].items()}
    assert chosen == {"age@F": "embedding", "age@M": "embedding", "height@all": "body", "speed@all": "gait",
                      "falls@all": "gait"}
    assert p.heads["height@all"].cv["r2"]["mean"] > 0.9 and p.heads["falls@all"].cv["auc"]["mean"] > 0.9
    assert p.heads["age@F"].interval["halfwidth"] > 0 and p.heads["age@F"].age_bias is not None
    assert seen[-1]["done"] == seen[-1]["total"] and {"fold", "folds", "target"} <= set(next(s for s in seen if s["stage"] == "cv"))
    p.save(tmp_path)
    with np.load(tmp_path / "predictor.npz", allow_pickle=False) as z:  # loads without pickle
        assert all(z[k].dtype == np.float64 for k in z.files)
    q = Predictor.load(tmp_path)
    out = q.predict(X[:3], cols, sex=sex[:3], age=np.array([50.0, 60.0, 70.0]))
    assert {"age", "height", "speed", "falls", "gait_age", "gait_age_gap_corrected"} <= set(out[0])
    ev = evaluate(q, X, cols, Y, targets, sex)
    assert ev["height"]["r2"] > 0.9 and "auc" in ev["falls"]


def test_a_progress_callback_stops_the_fit_between_folds():
    X, cols, Y, targets = panel(120)
    calls = []

    def stop(info):
        calls.append(info)
        if len(calls) == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        fit_heads(X, cols, Y, np.arange(len(X)), None, FitConfig(targets=targets, seeds=3),
                  embedding_model_version="e", source="t", progress=stop)
    assert len(calls) == 2


def test_compare_names_every_target_that_got_worse_beyond_the_margin():
    champion = {"age": {"r2": 0.50}, "bmi": {"r2": 0.40}, "falls": {"auc": 0.70}}
    assert compare({"age": {"r2": 0.49}, "bmi": {"r2": 0.45}, "falls": {"auc": 0.71}}, champion, 0.02) == []
    reasons = compare({"age": {"r2": 0.40}, "falls": {"auc": 0.60}}, champion, 0.02)
    assert [r.split(":")[0] for r in reasons] == ["age", "bmi", "falls"]


def test_session_row_splits_embedding_gait_and_body_size_columns():
    x, cols = session_row({"treadmill_3kmh": [1.0, 2.0], "walk_in_place": [3.0, 4.0], "ensemble": [9.0, 9.0]},
                          {"treadmill_3kmh": {"cadence_steps_min": 100.0, "leg_length_mm": 800.0},
                           "walk_in_place": {"cadence_steps_min": 110.0, "leg_length_mm": 810.0}})
    row = dict(zip(cols, x, strict=True))
    assert row["emb:0000"] == 2.0 and row["gait:cadence_steps_min"] == 105.0 and row["body:leg_length_mm"] == 805.0
    reps = representation_columns(cols)
    assert set(reps) == {"embedding", "gait", "body", "concat"} and len(reps["concat"]) == len(cols)
