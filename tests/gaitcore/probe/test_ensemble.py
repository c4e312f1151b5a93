"""Per-task ensemble (--task-mode ensemble): blocks, averaging, folds shared, end to end."""

import numpy as np

from gaitcore.probe import cv
from gaitcore.probe.analysis import ProbeConfig, ProbeData, cv_feature_set, run_probe
from gaitcore.probe.tables import Table, session_matrix


def _task_table(n_subj=60, p=5, seed=0, drop_task_b_for=()):
    """Per-window rows of two tasks; task a carries z, task b carries noise; some sessions lack task b."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n_subj)
    rows, meta = [], {"session_id": [], "subject": [], "task": [], "window": []}
    for i in range(n_subj):
        for task in ("a", "b"):
            if task == "b" and i in drop_task_b_for:
                continue
            for w in range(2):
                base = z[i] if task == "a" else 0.0
                rows.append(base + 0.3 * rng.normal(size=p))
                for k, v in (("session_id", f"S{i:03d}_v0"), ("subject", f"S{i:03d}"), ("task", task), ("window", str(w))):
                    meta[k].append(v)
    t = Table(np.asarray(rows), [f"e{j}" for j in range(p)], {k: np.asarray(v, dtype=object) for k, v in meta.items()})
    return t, z


def test_ensemble_matrix_is_concat_with_task_blocks():
    t, _ = _task_table(drop_task_b_for=(3,))
    c = session_matrix(t, "concat")
    e = session_matrix(t, "ensemble")
    np.testing.assert_array_equal(np.nan_to_num(c.X, nan=-9), np.nan_to_num(e.X, nan=-9))
    assert c.columns == e.columns and c.blocks is None
    assert set(e.blocks) == {"a", "b"}
    assert [e.columns[i] for i in e.blocks["a"]] == [f"a:e{j}" for j in range(5)]
    assert [e.columns[i] for i in e.blocks["b"]] == [f"b:e{j}" for j in range(5)]
    assert np.isnan(e.X[3, e.blocks["b"]]).all()
    one = session_matrix(t, "ensemble", tasks=["a"])
    assert list(one.blocks) == ["a"] and len(one.blocks["a"]) == 5


def test_ensemble_averages_per_task_out_of_fold_predictions():
    t, z = _task_table(drop_task_b_for=(3, 7))
    sm = session_matrix(t, "ensemble")
    rng = np.random.default_rng(1)
    Y = np.column_stack([z + 0.2 * rng.normal(size=len(z)), rng.normal(size=len(z))])
    res = cv_feature_set(sm.X, Y, sm.subjects, sm.blocks, seeds=3)
    ra = cv.nested_cv(sm.X[:, sm.blocks["a"]], Y, sm.subjects, seeds=3)
    rb = cv.nested_cv(sm.X[:, sm.blocks["b"]], Y, sm.subjects, seeds=3)
    expect = (ra.oof.astype(float) + rb.oof.astype(float)) / 2
    expect[:, [3, 7]] = ra.oof[:, [3, 7]]  # sessions without task b: task a's prediction alone
    np.testing.assert_allclose(res.oof, expect, rtol=1e-6, atol=1e-6)
    assert res.oof.shape == (3, len(z), 2) and res.meta["ensemble_tasks"] == ["a", "b"]
    # the signal of task a survives the average with a noise task (shrunk, still strong)
    r = np.corrcoef(res.oof[0, :, 0], Y[:, 0])[0, 1]
    assert r > 0.7


def test_run_probe_with_task_blocks_finds_planted_gain():
    t, z = _task_table(n_subj=120, seed=2)
    sm = session_matrix(t, "ensemble")
    rng = np.random.default_rng(3)
    n = len(z)
    age = rng.uniform(20, 80, n)
    Y = np.column_stack([1.5 * z + 0.05 * age + rng.normal(size=n), 0.08 * age + rng.normal(size=n)])
    sex = rng.choice(["M", "F"], n).astype(object)
    data = ProbeData(sm.session_ids, sm.subjects, sex, {"gait": sm.X}, {"gait": sm.columns}, age[:, None], ["age"], Y,
                     ["signal", "nosignal"], np.zeros(2, bool), np.zeros(2, bool), {"gait": sm.blocks})
    res = run_probe(data, ProbeConfig(seeds=5, keep_predictions=()))
    g = {r["target"]: r for r in res.gain}
    assert g["signal"]["significant"] and g["signal"]["gain"] > 0.1
    assert not g["nosignal"]["significant"]


def test_scatter_axis_ignores_wild_predictions(tmp_path):
    from gaitcore.probe.report import axis_range, fig_scatter

    lo, hi = axis_range(np.array([20.0, 80.0, np.nan]))
    assert lo == 11.0 and hi == 89.0
    rows = [{"target": "age", "feature_set": "f", "true": 20.0 + i, "predicted": 20.0 + i, "sex": "F"} for i in range(60)]
    rows[0]["predicted"] = 4300.0
    assert fig_scatter(rows, "age", tmp_path / "s.png").stat().st_size > 0
