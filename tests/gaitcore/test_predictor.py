"""The predictor artifact: fit, round-trip without pickles, intervals, gait age and its corrected gap."""

import json

import numpy as np
import pytest

from gaitcore.probe.predictor import JSON_NAME, NPZ_NAME, Predictor


def _train(n=120, p=12, seed=0):
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 80, n)
    sex = rng.choice(["M", "F"], n).astype(object)
    X = np.outer((age - 50) / 12, rng.normal(size=p)) + rng.normal(size=(n, p))
    X[rng.random((n, p)) < 0.02] = np.nan  # missing cells are imputed
    bmi = 26 + 2 * X[:, 0] + rng.normal(size=n)
    event = (X[:, 1] + rng.normal(size=n) > 0).astype(float)
    Y = np.column_stack([age, bmi, event])
    return X, [f"e{i}" for i in range(p)], Y, np.array([f"S{i}" for i in range(n)]), sex


@pytest.fixture(scope="module")
def fitted():
    X, cols, Y, groups, sex = _train()
    return Predictor.fit(X, cols, Y, ["age", "bmi", "event"], groups, sex, embedding_model_version="gaitmae-test-1",
                         cohort="synthetic", source="unit test", seeds=2), X, cols, Y, sex


def test_round_trip_identical_predictions(fitted, tmp_path):
    pred, X, cols, Y, sex = fitted
    pred.save(tmp_path / "p")
    back = Predictor.load(tmp_path / "p")
    a = pred.predict(X[:10], cols, sex[:10], Y[:10, 0])
    b = back.predict(X[:10], cols, sex[:10], Y[:10, 0])
    assert a == b
    assert back.meta["embedding_model_version"] == "gaitmae-test-1"
    assert back.meta["provenance"] == {"cohort": "synthetic", "source": "unit test", "demonstration_only": True}
    assert back.meta["n_training_subjects"] == 120
    assert set(back.meta["targets"]) == {"age", "bmi", "event"}
    assert {"age@F", "age@M", "bmi@F", "bmi@M", "event@all"} == set(back.heads)
    assert back.heads["event@all"].kind == "logistic" and "auc" in back.heads["event@all"].cv
    assert "r" in back.heads["age@M"].cv


def test_artifact_has_no_pickles_and_detects_tampering(fitted, tmp_path):
    pred, *_ = fitted
    folder = pred.save(tmp_path / "p")
    with np.load(folder / NPZ_NAME, allow_pickle=False) as z:  # would raise on object arrays
        assert all(z[k].dtype == np.float64 for k in z.files)
    json.loads((folder / JSON_NAME).read_text())
    raw = bytearray((folder / NPZ_NAME).read_bytes())
    raw[-40] ^= 0xFF
    (folder / NPZ_NAME).write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="hash"):
        Predictor.load(folder)


def test_predictions_intervals_and_gait_age_gap(fitted):
    pred, X, cols, Y, sex = fitted
    out = pred.predict(X, cols, sex, Y[:, 0])
    ga = np.array([o["gait_age"] for o in out])
    assert np.corrcoef(ga, Y[:, 0])[0, 1] > 0.7
    age = out[0]["age"]
    assert age["lower"] < age["value"] < age["upper"]
    cover = np.mean([o["age"]["lower"] <= y <= o["age"]["upper"] for o, y in zip(out, Y[:, 0], strict=False)])
    assert cover > 0.8  # in-sample coverage of a 90 % conformal interval
    gap = np.array([o["gait_age_gap"] for o in out])
    corr = np.array([o["gait_age_gap_corrected"] for o in out])
    # the raw gap regresses to the mean (negative correlation with age); the corrected one much less so
    assert np.corrcoef(gap, Y[:, 0])[0, 1] < -0.2
    assert abs(np.corrcoef(corr, Y[:, 0])[0, 1]) < abs(np.corrcoef(gap, Y[:, 0])[0, 1])
    assert 0 <= out[0]["event"]["probability"] <= 1


def test_columns_are_aligned_by_name_and_version_checked(fitted):
    pred, X, cols, Y, sex = fitted
    perm = np.random.default_rng(0).permutation(len(cols))
    a = pred.predict(X[:5], cols, sex[:5])
    b = pred.predict(X[:5][:, perm], [cols[i] for i in perm], sex[:5])
    assert a == b
    pred.check_model_version("gaitmae-test-1")
    with pytest.raises(ValueError):
        pred.check_model_version("gaitmae-other")


def test_cli_fit_predictor_reads_model_version_from_table(tmp_path):
    from gaitcore.cli import main
    from gaitcore.probe.tables import write_csv

    X, cols, Y, groups, sex = _train(n=60, p=5)
    X = np.nan_to_num(X)
    write_csv(tmp_path / "emb.csv", [{"level": "task", "session_id": f"{g}_v0", "subject": g, "task": "walk",
                                      "model_version": "gm:small:run1", **dict(zip(cols, x, strict=False))} for g, x in zip(groups, X, strict=False)])
    write_csv(tmp_path / "phen.csv", [{"subject": g, "visit": 0, "sex": s, "age": y[0], "bmi": y[1]}
                                      for g, s, y in zip(groups, sex, Y, strict=False)])
    out = tmp_path / "pred"
    rc = main(["fit-predictor", "--embeddings", str(tmp_path / "emb.csv"), "--phenotypes", str(tmp_path / "phen.csv"),
               "--cohort", "synthetic", "--source", "test", "--seeds", "1", "--out", str(out), "-q"])
    assert rc == 0
    p = Predictor.load(out)
    assert p.meta["embedding_model_version"] == "gm:small:run1"
    assert p.meta["columns"] == cols and p.meta["tasks"] == ["walk"]
    from gaitcore.probe.tables import read_table

    sm = p.session_matrix(read_table(tmp_path / "emb.csv"))
    out1 = p.predict(sm.X, sm.columns, sex)
    assert np.isfinite(out1[0]["age"]["value"])
    with pytest.raises(ValueError, match="input columns"):
        p.predict(sm.X, [f"other:{c}" for c in sm.columns], sex)


def test_reference_statistics_of_the_training_cohort_by_sex_and_age_band(fitted, tmp_path):
    """Deviations are measured against the training cohort: per target, overall, per sex and per sex and age
    band, from the observed training values; a prediction carries the most specific group with >= 10."""
    pred, X, cols, Y, sex = fitted
    ref = Predictor.load(pred.save(tmp_path / "p")).meta["reference"]
    assert "event" not in ref  # binary: no SD reference
    bmi = Y[:, 1]
    women = (sex == "F") & np.isfinite(bmi)
    assert ref["bmi"]["all"]["n"] == int(np.isfinite(bmi).sum())
    assert ref["bmi"]["F"]["mean"] == pytest.approx(float(np.mean(bmi[women])))
    assert ref["bmi"]["F"]["sd"] == pytest.approx(float(np.std(bmi[women], ddof=1)))
    band = women & (Y[:, 0] >= 40) & (Y[:, 0] < 60)
    assert ref["bmi"]["F:40-59"]["n"] == int(band.sum())
    assert ref["bmi"]["F:40-59"]["mean"] == pytest.approx(float(np.mean(bmi[band])))
    i = int(np.flatnonzero(band)[0])
    out = pred.predict(X[i:i + 1], cols, sex[i:i + 1], Y[i:i + 1, 0])[0]
    assert out["bmi"]["reference"]["group"] == ("F:40-59" if band.sum() >= 10 else "F")
    assert "reference" not in out["event"]
    assert pred.reference("bmi", "", None)["group"] == "all"
