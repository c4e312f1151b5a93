"""Probes on small planted data: grouping, no-signal control, planted signal, ridge equivalence, report."""

import numpy as np
import pytest

from gaitcore.probe import ablation, cv, gain, metrics
from gaitcore.probe.analysis import ProbeConfig, ProbeData, run_probe, score_rows


def _cohort(n_subj=90, visits=2, p=30, seed=0):
    """Subjects with repeat visits; covariates age/bmi; a latent factor z carried by 'gait' columns."""
    rng = np.random.default_rng(seed)
    subj = np.repeat([f"S{i:03d}" for i in range(n_subj)], visits)
    n = len(subj)
    age = np.repeat(rng.uniform(20, 80, n_subj), visits)
    bmi = np.repeat(rng.normal(26, 4, n_subj), visits)
    z = np.repeat(rng.normal(size=n_subj), visits)
    sex = np.repeat(rng.choice(["M", "F"], n_subj), visits).astype(object)
    W = rng.normal(size=(3, p))
    X = np.column_stack([(age - 50) / 12, z, rng.normal(size=n)]) @ W + 0.5 * rng.normal(size=(n, p))
    signal = 2.0 * z + 0.05 * age + rng.normal(size=n)  # gait-linked beyond covariates
    nosig = 0.08 * age + 0.2 * bmi + rng.normal(size=n)  # covariates only
    return subj, sex, X, np.column_stack([age, bmi]), np.column_stack([signal, nosig])


def test_grouped_folds_never_leak_a_subject():
    subj, *_ = _cohort()
    for seed in range(4):
        f = cv.make_folds(subj, seed)
        for s in np.unique(subj):
            assert len(np.unique(f.outer[subj == s])) == 1
        for k, inner in enumerate(f.inner):
            assert (inner[f.outer == k] == -1).all()
            tr = f.outer != k
            for s in np.unique(subj[tr]):
                assert len(np.unique(inner[subj == s])) == 1
        counts = np.bincount(f.outer)
        assert counts.max() - counts.min() <= 2  # balanced


def test_nested_cv_test_rows_never_seen_in_training(monkeypatch):
    subj, _, X, _, Y = _cohort(n_subj=40)
    seen = []
    orig = cv.ridge_path

    def spy(Xtr, Ytr, Xte, alphas=cv.ALPHAS):
        seen.append((Xtr.shape[0], Xte.shape[0]))
        return orig(Xtr, Ytr, Xte, alphas)

    monkeypatch.setattr(cv, "ridge_path", spy)
    folds = cv.make_folds(subj, 0)
    oof, _ = cv._nested_ridge(X, Y, folds, cv.ALPHAS)
    assert np.isfinite(oof).all()
    assert len(seen) == 5 * (4 + 1)
    # outer fits: train + test rows = all rows, and test subjects are disjoint from training subjects
    for k in range(5):
        assert not set(subj[folds.outer == k]) & set(subj[folds.outer != k])


def test_ridge_path_matches_sklearn_both_regimes():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    for n, p in ((60, 10), (30, 80)):
        X, Y, Xt = rng.normal(size=(n, p)), rng.normal(size=(n, 2)), rng.normal(size=(7, p))
        A, B = cv.standardise(X, Xt)
        P = cv.ridge_path(A, Y, B, np.array([0.1, 10.0, 1000.0]))
        for i, a in enumerate((0.1, 10.0, 1000.0)):
            np.testing.assert_allclose(P[i], Ridge(alpha=a).fit(A, Y).predict(B), atol=1e-8)


def test_ridge_falls_back_to_the_qr_svd_when_divide_and_conquer_fails(monkeypatch):
    """LAPACK gesdd (numpy's SVD) can fail to converge on rank-deficient blocks (seen once in a 3,414-subject
    probe); the ridge then uses gesvd and predicts exactly as before. gesdd's failure cannot be produced on
    demand, so numpy's SVD is made to fail here (the narrowest seam)."""
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(3)
    X, Y, Xt = rng.normal(size=(80, 12)), rng.normal(size=(80, 2)), rng.normal(size=(5, 12))
    X[40:] = np.median(X, axis=0)  # half the rows imputed with one median row, as for a missing task
    A, B = cv.standardise(X, Xt)
    calls = []

    def failing_svd(*args, **kwargs):
        calls.append(1)
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(cv.np.linalg, "svd", failing_svd)
    P = cv.ridge_path(A, Y, B, np.array([1.0, 100.0]))
    assert calls, "the primal path did not try numpy's SVD first"
    for i, a in enumerate((1.0, 100.0)):
        np.testing.assert_allclose(P[i], Ridge(alpha=a).fit(A, Y).predict(B), atol=1e-8)
    w, b = cv.ridge_coef(A, Y[:, 0], 100.0)
    np.testing.assert_allclose(w, Ridge(alpha=100.0).fit(A, Y[:, 0]).coef_, atol=1e-8)


def _data(subj, sex, X, C, Y, binary=None):
    return ProbeData(np.asarray([f"{s}_{i}" for i, s in enumerate(subj)], dtype=object), subj, sex, {"gait": X},
                     {"gait": [f"c{i}" for i in range(X.shape[1])]}, C, ["age", "bmi"], Y, ["signal", "nosignal"],
                     np.zeros(2, bool) if binary is None else binary, np.zeros(2, bool))


def test_planted_signal_found_and_no_signal_not():
    subj, sex, X, C, Y = _cohort()
    data = _data(subj, sex, X, C, Y)
    res = run_probe(data, ProbeConfig(seeds=6, keep_predictions=()))
    g = {r["target"]: r for r in res.gain}
    assert g["signal"]["significant"] and g["signal"]["gain"] > 0.1
    assert not g["nosignal"]["significant"]
    rows = score_rows(res, data, {"signal": "x", "nosignal": "y"})
    assert {r["model"] for r in rows} == {"covariates", "gait", "gait+covariates"}


def test_covariate_baseline_is_the_full_models_unpenalized_covariate_fit():
    """The covariates-only model is OLS (out of fold), like the covariate part of gait+covariates; a
    penalized baseline would hand the full model a 'gain' that gait did not bring."""
    from sklearn.linear_model import LinearRegression

    subj, sex, X, C, Y = _cohort(n_subj=60, visits=1, p=8)
    data = _data(subj, sex, X, C, Y)
    res = run_probe(data, ProbeConfig(seeds=2, keep_predictions=()))
    assert (res.alpha[("covariates", "covariates", "all")] <= 1e-5).all()
    cov = cv.nested_cv(C, Y, subj, seeds=[0], alphas=np.array([1e-6]))
    folds = cv.make_folds(subj, 0)
    for k in range(5):
        tr, te = folds.outer != k, folds.outer == k
        np.testing.assert_allclose(cov.oof[0][te], LinearRegression().fit(C[tr], Y[tr]).predict(C[te]), rtol=1e-4, atol=1e-4)
    pen = run_probe(data, ProbeConfig(seeds=2, keep_predictions=(), penalize_covariates=True))
    assert pen.alpha[("covariates", "covariates", "all")].max() >= 0.1  # the shared grid in that mode


def test_binary_target_gets_auc():
    subj, sex, X, C, Y = _cohort(n_subj=60, visits=1, p=8)
    yb = (Y[:, 0] > np.median(Y[:, 0])).astype(float)
    res = cv.nested_cv(X, yb, subj, seeds=1)
    assert res.binary[0]
    auc = metrics.roc_auc(yb, res.oof[0, :, 0])[0]
    assert 0.6 < auc <= 1.0


def test_bh_and_wilcoxon():
    q = gain.benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5, np.nan]))
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.5], rtol=1e-4)
    assert np.isnan(q[4])
    assert gain.wilcoxon_greater(np.full(15, 0.01) + np.linspace(0, 1e-3, 15)) < 1e-3
    assert gain.wilcoxon_greater(-np.abs(np.linspace(0.01, 0.1, 15))) > 0.9
    assert gain.wilcoxon_greater(np.zeros(15)) == 1.0


def test_metrics_against_numpy():
    rng = np.random.default_rng(2)
    y, p = rng.normal(size=50), rng.normal(size=50)
    assert metrics.pearson_r(y, p)[0] == pytest.approx(np.corrcoef(y, p)[0, 1])
    from sklearn.metrics import roc_auc_score

    yb = (y > 0).astype(float)
    assert metrics.roc_auc(yb, p)[0] == pytest.approx(roc_auc_score(yb, p))


def test_ablation_inputs_and_importance():
    x = np.ones((2, 5, 26, 4), np.float32)
    xd, _ = ablation.ablate_input(x, "drop_legs")
    xk, _ = ablation.ablate_input(x, "keep_legs")
    legs = ablation.GROUPS["legs"]
    assert (xd[..., legs, :] == 0).all() and xd.sum() == 2 * 5 * 18 * 4
    assert (xk[..., legs, :] == 1).all() and xk.sum() == 2 * 5 * 8 * 4
    out = ablation.recompute_embeddings([({"session_id": "a", "subject": "s", "task": "t"}, x)],
                                        lambda b: b.reshape(len(b), -1, 26, 4)[..., 0].mean(axis=1))
    assert set(out) == set(ablation.variants())
    imp = ablation.importance(np.array([0.5]), {"legs": np.array([0.1]), "arms": np.array([0.5])},
                              {"legs": np.array([0.4]), "arms": np.array([0.0])})
    assert imp["legs"][0] == pytest.approx(2.0) and imp["arms"][0] == pytest.approx(0.0)


def test_cli_probe_end_to_end(tmp_path):
    """gaitfm probe on tiny CSVs writes every table, the figures and the report."""
    from gaitcore.cli import main
    from gaitcore.probe.tables import write_csv

    subj, sex, X, C, Y = _cohort(n_subj=50, visits=1, p=6)
    emb = [{"session_id": f"{s}_v0", "subject": s, "task": "walk", "window": w,
            **{f"e{i}": X[k, i] + 0.01 * w for i in range(X.shape[1])}} for k, s in enumerate(subj) for w in range(2)]
    write_csv(tmp_path / "emb.csv", emb)
    phen = [{"subject": s, "visit": 0, "age": C[k, 0], "sex": sex[k], "bmi": C[k, 1], "signal": Y[k, 0],
             "nosignal": Y[k, 1]} for k, s in enumerate(subj)]
    write_csv(tmp_path / "phen.csv", phen)
    out = tmp_path / "out"
    rc = main(["probe", "--embeddings", str(tmp_path / "emb.csv"), "--phenotypes", str(tmp_path / "phen.csv"),
               "--covariates", "age,sex,bmi", "--seeds", "2", "--alphas=-1:5:13", "--out", str(out), "-q"])
    assert rc == 0
    import json

    alphas = json.loads((out / "summary.json").read_text())["alphas"]
    assert len(alphas) == 13 and alphas[0] == pytest.approx(0.1) and alphas[-1] == pytest.approx(1e5)
    for f in ("scores.csv", "gain.csv", "systems.csv", "predictions.csv", "report.html", "fig_gain_radar.png",
              "fig_age_scatter.png", "fig_feature_sets.png"):
        assert (out / f).stat().st_size > 0, f


def test_subject_bootstrap_gain_test():
    rng = np.random.default_rng(3)
    n = 200
    g = np.repeat(np.arange(n // 2), 2)  # two rows per subject: resampled together
    y = rng.normal(size=n)
    good = y + rng.normal(size=n)
    noise = rng.normal(size=n)
    assert gain.bootstrap_gain_p(y, good, noise, g, False, n_boot=200) < 0.01
    assert gain.bootstrap_gain_p(y, noise, good, g, False, n_boot=200) > 0.9
    yb = (y > 0).astype(float)
    assert gain.bootstrap_gain_p(yb, good, noise, g, True, n_boot=200) < 0.01
    rows = gain.add_fdr([{"feature_set": "x", "gain": 0.1, "p": 1e-4, "p_boot": 0.5, "score_full": 0.2},
                         {"feature_set": "x", "gain": 0.1, "p": 1e-4, "p_boot": 1e-4, "score_full": -0.1},
                         {"feature_set": "x", "gain": 0.1, "p": 1e-4, "p_boot": 1e-4, "score_full": 0.2}])
    assert [r["significant_paper"] for r in rows] == [True, True, True]
    assert [r["significant"] for r in rows] == [False, False, True]


def test_embed_table_layout_is_understood(tmp_path):
    """`gaitfm embed` tables: window rows + task rows (level), bookkeeping columns are not features."""
    from gaitcore.probe.tables import model_version, read_table, session_matrix, write_csv

    rows = []
    for s in ("A_v0", "B_v0"):
        for task in ("t1", "t2"):
            for w in (0, 1):
                rows.append({"level": "window", "session_id": s, "subject": s[0], "task": task, "window": w,
                             "n_windows": 1, "n_frames": 900, "model_version": "m1", "preprocessing_version": "p",
                             "legs_mean_000": 1.0 + w, "legs_mean_001": 2.0})
            rows.append({"level": "task", "session_id": s, "subject": s[0], "task": task, "window": -1,
                         "n_windows": 2, "n_frames": 1800, "model_version": "m1", "preprocessing_version": "p",
                         "legs_mean_000": 1.5, "legs_mean_001": 2.0})
    write_csv(tmp_path / "e.csv", rows)
    t = read_table(tmp_path / "e.csv")
    assert t.columns == ["legs_mean_000", "legs_mean_001"]
    assert model_version(t) == "m1"
    sm = session_matrix(t)
    assert list(sm.session_ids) == ["A_v0", "B_v0"]
    assert sm.columns == ["t1:legs_mean_000", "t1:legs_mean_001", "t2:legs_mean_000", "t2:legs_mean_001"]
    np.testing.assert_allclose(sm.X[0], [1.5, 2.0, 1.5, 2.0])


def test_unpenalized_covariates_match_a_two_block_ridge():
    """Residualisation (FWL) == ridge that penalizes only X, solved directly."""
    rng = np.random.default_rng(4)
    n, p, c = 50, 8, 3
    X, C, y, Xt, Ct = (rng.normal(size=(n, p)), rng.normal(size=(n, c)), rng.normal(size=(n, 1)),
                       rng.normal(size=(6, p)), rng.normal(size=(6, c)))
    alpha = 5.0
    P = cv.fit_predict_path(X, y, Xt, np.array([alpha]), C, Ct)[0]
    Xa, Xb = cv.standardise(X, Xt)
    Ca, Cb = cv.standardise(C, Ct)
    A = np.column_stack([np.ones(n), Ca, Xa])
    pen = np.diag(np.r_[np.zeros(1 + c), np.full(p, alpha)])
    beta = np.linalg.solve(A.T @ A + pen, A.T @ y)
    np.testing.assert_allclose(P, np.column_stack([np.ones(6), Cb, Xb]) @ beta, atol=1e-8)


def test_parquet_and_npz_tables(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gaitcore.probe.tables import read_table

    pq.write_table(pa.table({"level": ["task", "task"], "session_id": ["a", "b"], "subject": ["A", "B"],
                             "task": ["t", "t"], "n_frames": [900, 450], "e0": pa.array([1.0, 2.0], pa.float32())}),
                   tmp_path / "e.parquet")
    t = read_table(tmp_path / "e.parquet")
    assert t.columns == ["e0"] and list(t.meta["session_id"]) == ["a", "b"] and "n_frames" in t.meta
    np.savez(tmp_path / "e.npz", values=np.ones((2, 3)), session_id=np.array(["a", "b"]), subject=np.array(["A", "B"]))
    t = read_table(tmp_path / "e.npz")
    assert t.values.shape == (2, 3) and list(t.meta["subject"]) == ["A", "B"]


def test_cli_probe_rejects_a_bad_alpha_grid():
    from gaitcore.cli.cmd_probe import parse_alphas

    assert len(parse_alphas("-1:3:9")) == 9
    for bad in ("0.1,1,10", "3:-1:5", "a:b:c", "-1:3:0"):
        with pytest.raises(SystemExit, match="--alphas"):
            parse_alphas(bad)


def test_detection_by_factor_counts_phenotypes_with_signal_in_either_stratum():
    truth = {"latent_factors": {"gait_linked": ["frailty", "mood"]},
             "phenotypes": {
                 "grip": {"gait_linked_factors": ["frailty"], "gait_signal_beyond_covariates": True},
                 "crp": {"gait_linked_factors": ["frailty", "mood"], "gait_signal_beyond_covariates": True},
                 "phq9": {"gait_linked_factors": ["mood"], "gait_signal_beyond_covariates": True},
                 # loads on mood but the covariates explain it: never counted for a factor
                 "sleep_h": {"gait_linked_factors": ["mood"], "gait_signal_beyond_covariates": False},
                 "hb": {"gait_linked_factors": [], "gait_signal_beyond_covariates": False}}}

    def row(fs, st, t, sig, paper=False):
        return {"feature_set": fs, "stratum": st, "target": t, "significant": sig, "significant_paper": paper}

    rows = [row("emb", "F", "grip", False), row("emb", "M", "grip", True),   # men only: detected
            row("emb", "F", "crp", False), row("emb", "M", "crp", False, paper=True),
            row("emb", "F", "phq9", True), row("emb", "F", "sleep_h", True), row("emb", "F", "hb", True),
            row("feat", "F", "grip", False), row("feat", "F", "phq9", False)]
    got = {(r["feature_set"], r["factor"]): (r["detected"], r["n_phenotypes"]) for r in gain.detection_by_factor(rows, truth)}
    assert got == {("emb", "frailty"): (1, 2), ("emb", "mood"): (1, 2),
                   ("feat", "frailty"): (0, 1), ("feat", "mood"): (0, 1)}
    paper = {(r["feature_set"], r["factor"]): r["detected"]
             for r in gain.detection_by_factor(rows, truth, "significant_paper")}
    assert paper[("emb", "frailty")] == 1 and paper[("emb", "mood")] == 1  # crp, by the paper's test
