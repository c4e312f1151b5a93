"""``finetune-heads``: one organisation's linear heads, the representation chosen per target by inner CV.

Inputs per session (:func:`session_row`): the GaitMAE embedding (mean over the session's tasks,
columns ``emb:NNNN``), the engineered gait features (mean over tasks, ``gait:<name>``) and the body-size
features (median over tasks, ``body:<name>``; segment lengths, leg length, estimated stature). The
representations a head may use: ``embedding``, ``gait``, ``body`` and ``concat`` (all three).

Per target (and per sex for ``sex_specific`` targets) -- the same protocol as the demo predictor
(:mod:`.predictor`), with one more choice inside the inner folds:

* nested grouped CV (outer 5 x inner 4 folds by subject, ``seeds`` repeats): on each outer training
  block the inner folds pick the representation *and* the penalty (pooled inner MSE for ridge, log-loss
  for logistic); the outer test block is predicted with that choice. The out-of-fold predictions give
  the CV metrics, the split-conformal interval half-width and the gait-age bias line, exactly as in
  :meth:`.predictor.Predictor.fit`;
* the final head: representation and penalty chosen by grouped inner CV on all training rows, then fitted
  on them. Its coefficients are stored over the union of all columns (zeros outside its representation),
  so the artifact is a plain :class:`~.predictor.Predictor` (JSON + NPZ of float64, loaded with
  ``allow_pickle=False``). ``meta["representation"]`` records per head which representation won, and how
  often each won across the outer folds.

Progress: ``progress(dict)`` is called after every outer fold of every panel and after every final head
(``{"stage", "fold", "folds", "target", "done", "total"}``); it may raise (e.g. :class:`Cancelled`) to
stop the fit between two folds or targets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import PROBE_VERSION
from .cv import (
    ALPHAS,
    INNER,
    LOGISTIC_CS,
    OUTER,
    _logistic_path,
    fit_predict_path,
    grouped_fold_ids,
    make_folds,
    ridge_coef,
    standardise,
)
from .metrics import score_panel
from .predictor import FORMAT, SEX_SPECIFIC, Head, Predictor

REPRESENTATIONS = ("embedding", "gait", "body", "concat")
PREFIX = {"embedding": "emb:", "gait": "gait:", "body": "body:"}
METHOD = "finetune-heads/1"


class Cancelled(Exception):
    """Raised by a progress callback to stop a fit between folds or targets."""


def body_feature_names() -> tuple[str, ...]:
    from ..features.catalogue import FEATURES

    return tuple(f.name for f in FEATURES if f.group == "body_size")


def session_row(vectors: dict[str, list[float]], features: dict[str, dict[str, float]],
                tasks: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """One input row of a session: ``vectors`` {task: embedding} (task ``ensemble`` ignored) and
    ``features`` {task: {feature: value}}; only ``tasks`` when given. Missing values are NaN (the heads
    impute the training median)."""
    from ..features.catalogue import FEATURE_NAMES

    body = set(body_feature_names())
    vtasks = [t for t in sorted(vectors) if t != "ensemble" and (not tasks or t in tasks)]
    dim = len(vectors[vtasks[0]]) if vtasks else 0
    emb = np.mean([np.asarray(vectors[t], float) for t in vtasks], axis=0) if vtasks else np.zeros(0)
    cols = [f"emb:{i:04d}" for i in range(dim)]
    vals = list(emb)
    ftasks = [t for t in sorted(features) if not tasks or t in tasks]
    for name in FEATURE_NAMES:
        xs = [features[t][name] for t in ftasks if features[t].get(name) is not None]
        xs = [float(x) for x in xs if np.isfinite(x)]
        if name in body:
            cols.append(f"body:{name}")
            vals.append(float(np.median(xs)) if xs else np.nan)
        else:
            cols.append(f"gait:{name}")
            vals.append(float(np.mean(xs)) if xs else np.nan)
    return np.asarray(vals, float), cols


def representation_columns(columns: list[str]) -> dict[str, np.ndarray]:
    """{representation: column indices} of the representations present in ``columns``."""
    cols = np.asarray(columns)
    out = {}
    for rep in REPRESENTATIONS:
        idx = np.arange(len(cols)) if rep == "concat" else np.flatnonzero(np.char.startswith(cols.astype(str), PREFIX[rep]))
        if len(idx):
            out[rep] = idx
    if len(out) == 2 and "concat" in out:  # a single representation: concat is the same thing
        out.pop("concat")
    return out


@dataclass
class FitConfig:
    targets: list[str]
    representations: tuple[str, ...] = REPRESENTATIONS
    sex_specific: tuple[str, ...] = SEX_SPECIFIC
    seeds: int = 1
    level: float = 0.9
    outer: int = OUTER
    inner: int = INNER
    blas_threads: int = 1  # as in cv.nested_cv: multi-threaded BLAS on 2 shared cores is much slower here
    extra: dict = field(default_factory=dict)


def _usable(X: np.ndarray) -> np.ndarray:
    """X with all-NaN columns set to 0 (standardise() leaves a column of NaN medians otherwise)."""
    bad = ~np.isfinite(X).any(axis=0)
    if bad.any():
        X = X.copy()
        X[:, bad] = 0.0
    return X


def _inner_loss(X, Y, inner, binary, alphas=ALPHAS, Cs=LOGISTIC_CS) -> np.ndarray:
    """Pooled inner-fold loss per (penalty, target): squared error (ridge) or log-loss (one binary target)."""
    if not binary:
        sse = np.zeros((len(alphas), Y.shape[1]))
        for j in np.unique(inner[inner >= 0]):
            a, b = (inner >= 0) & (inner != j), inner == j
            sse += ((fit_predict_path(X[a], Y[a], X[b], alphas) - Y[b][None]) ** 2).sum(axis=1)
        return sse
    y = (Y[:, 0] > 0.5).astype(int)
    loss = np.zeros((len(Cs), 1))
    for j in np.unique(inner[inner >= 0]):
        a, b = (inner >= 0) & (inner != j), inner == j
        if len(np.unique(y[a])) < 2:
            continue
        Xa, Xb = standardise(X[a], X[b])
        P = np.clip(_logistic_path(Xa, y[a], Xb, Cs), 1e-9, 1 - 1e-9)
        loss[:, 0] -= (y[b] * np.log(P) + (1 - y[b]) * np.log(1 - P)).sum(axis=1)
    return loss


def _choose(Xr: dict[str, np.ndarray], Y, inner, binary) -> tuple[list[str], np.ndarray]:
    """Per target: the representation with the lowest inner loss and the index of its best penalty."""
    reps = list(Xr)
    losses = np.stack([_inner_loss(Xr[r], Y, inner, binary) for r in reps])  # [R, A, T]
    best_pen = losses.argmin(axis=1)  # [R, T]
    best_rep = losses.min(axis=1).argmin(axis=0)  # [T]
    return [reps[i] for i in best_rep], np.array([best_pen[r, t] for t, r in enumerate(best_rep)])


def _predict_with(Xr, Y, tr, te, rep_of, pen_of, binary) -> np.ndarray:
    out = np.full((int(te.sum()), Y.shape[1]), np.nan)
    for rep in dict.fromkeys(rep_of):
        cols = [t for t, r in enumerate(rep_of) if r == rep]
        if binary:
            Xa, Xb = standardise(Xr[rep][tr], Xr[rep][te])
            C = LOGISTIC_CS[pen_of[0]:pen_of[0] + 1]
            out[:, 0] = _logistic_path(Xa, (Y[tr, 0] > 0.5).astype(int), Xb, C)[0]
        else:
            P = fit_predict_path(Xr[rep][tr], Y[tr][:, cols], Xr[rep][te], ALPHAS)
            out[:, cols] = np.take_along_axis(P, pen_of[cols][None, None, :], axis=0)[0]
    return out


def _final_head(X, y, binary, pen) -> dict:
    med = np.nanmedian(X, axis=0) if np.isnan(X).any() else np.median(X, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    Xi = np.where(np.isnan(X), med, X)
    mu, sd = Xi.mean(axis=0), Xi.std(axis=0)
    sd = np.where(sd > 1e-12, sd, np.inf)
    Z = (Xi - mu) / sd
    if binary:
        from sklearn.linear_model import LogisticRegression

        m = LogisticRegression(C=float(LOGISTIC_CS[pen]), max_iter=500).fit(Z, (y > 0.5).astype(int))
        coef, icpt, alpha = m.coef_[0], float(m.intercept_[0]), float(1.0 / LOGISTIC_CS[pen])
    else:
        alpha = float(ALPHAS[pen])
        coef, icpt = ridge_coef(Z, y, alpha)
    ok = np.isfinite(sd)
    return {"impute": med, "mean": mu, "scale": np.where(ok, sd, 1.0), "coef": np.where(ok, coef, 0.0),
            "intercept": np.array([icpt], float), "alpha": alpha}


def fit_heads(X: np.ndarray, columns: list[str], Y: np.ndarray, groups: np.ndarray, sex: np.ndarray | None,
              config: FitConfig, *, embedding_model_version: str, source: str, cohort: str = "real",
              progress: Callable[[dict], None] | None = None) -> Predictor:
    """Fit every head of ``config.targets`` (columns of ``Y``); see the module docstring."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(config.blas_threads):
        return _fit_heads(X, columns, Y, groups, sex, config, embedding_model_version=embedding_model_version,
                          source=source, cohort=cohort, progress=progress)


def _fit_heads(X, columns, Y, groups, sex, config: FitConfig, *, embedding_model_version, source, cohort, progress):
    from .cv import detect_binary

    t0 = time.perf_counter()
    X = _usable(np.asarray(X, float))
    Y = np.asarray(Y, float).reshape(len(X), -1)
    groups = np.asarray(groups)
    sex = np.asarray(sex if sex is not None else [""] * len(X), dtype=object)
    binary = detect_binary(Y)
    reps = {r: i for r, i in representation_columns(columns).items() if r in config.representations}
    if not reps:
        raise ValueError(f"none of the representations {config.representations} is in the input columns")
    # units of work: (target index, stratum) -> rows; continuous units sharing their rows form one panel
    panels: dict[tuple, list[tuple[int, str]]] = {}
    for j, t in enumerate(config.targets):
        strata = {"all": np.ones(len(X), bool)}
        if t in config.sex_specific and set(sex.tolist()) >= {"M", "F"}:
            strata = {s: sex == s for s in ("F", "M")}
        for st, rows in strata.items():
            rows = rows & np.isfinite(Y[:, j])
            if len(np.unique(groups[rows])) < config.outer * 2:
                continue
            key = (rows.tobytes(), bool(binary[j])) if not binary[j] else (rows.tobytes(), True, j)
            panels.setdefault(key, []).append((j, st))
    total_folds = sum(config.outer * config.seeds for _ in panels)
    n_heads = sum(len(u) for u in panels.values())
    done_folds = done_heads = 0
    heads: dict[str, Head] = {}
    rep_meta: dict[str, dict] = {}

    def tell(**kw):
        if progress:
            progress({"done": done_folds + done_heads, "total": total_folds + n_heads,
                      "elapsed_s": round(time.perf_counter() - t0, 2), **kw})

    for key, units in panels.items():
        rows = np.frombuffer(key[0], dtype=bool)
        is_bin = key[1]
        cols = [j for j, _ in units]
        Xr = {r: X[np.ix_(rows, idx)] for r, idx in reps.items()}
        Yp, gp = Y[np.ix_(rows, cols)], groups[rows]
        label = ", ".join(f"{config.targets[j]}@{st}" for j, st in units)
        oof = np.full((config.seeds,) + Yp.shape, np.nan)
        wins = [dict.fromkeys(reps, 0) for _ in cols]
        for s in range(config.seeds):
            folds = make_folds(gp, s, config.outer, config.inner)
            for k in range(config.outer):
                tr, te = folds.outer != k, folds.outer == k
                rep_of, pen_of = _choose({r: x[tr] for r, x in Xr.items()}, Yp[tr], folds.inner[k][tr], is_bin)
                oof[s, te] = _predict_with(Xr, Yp, tr, te, rep_of, pen_of, is_bin)
                for t, r in enumerate(rep_of):
                    wins[t][r] += 1
                done_folds += 1
                tell(stage="cv", fold=k + 1, folds=config.outer, seed=s + 1, target=label)
        # final heads on all rows of the panel
        rng = np.random.default_rng(np.random.SeedSequence([0, 77]))
        inner = grouped_fold_ids(gp, config.inner, rng)
        rep_of, pen_of = _choose(Xr, Yp, inner, is_bin)
        for t, (j, st) in enumerate(units):
            target = config.targets[j]
            y = Yp[:, t]
            sc = [score_panel(y[:, None], oof[s][:, t:t + 1], np.array([is_bin]), make_folds(gp, s).outer)
                  for s in range(config.seeds)]
            metrics = ("auc",) if is_bin else ("r", "r_pooled", "r2", "mae")
            cv = {m: {"mean": float(np.nanmean([x[m][0] for x in sc])),
                      "sd": float(np.nanstd([x[m][0] for x in sc], ddof=1)) if len(sc) > 1 else None} for m in metrics}
            cv.update({"seeds": config.seeds, "outer": config.outer, "inner": config.inner, "grouped_by": "subject"})
            rep = rep_of[t]
            arr = _final_head(Xr[rep], y, is_bin, int(pen_of[t]))
            full = {"impute": np.zeros(len(columns)), "mean": np.zeros(len(columns)), "scale": np.ones(len(columns)),
                    "coef": np.zeros(len(columns)), "intercept": arr["intercept"]}
            for name in ("impute", "mean", "scale", "coef"):
                full[name][reps[rep]] = arr[name]
            head = Head(target, st, "logistic" if is_bin else "ridge", arr["alpha"], int(rows.sum()),
                        int(len(np.unique(gp))), cv, arrays=full)
            if not is_bin:
                resid = np.abs(oof[:, :, t] - y[None, :]).ravel()
                resid = resid[np.isfinite(resid)]
                n = len(y)
                head.interval = {"method": "split-conformal on nested-CV out-of-fold absolute residuals",
                                 "level": config.level, "halfwidth": float(np.quantile(resid, min(1.0, config.level * (n + 1) / n)))}
                if target == "age":
                    b, a = np.polyfit(y, np.nanmean(oof[:, :, t], axis=0), 1)
                    head.age_bias = {"intercept": float(a), "slope": float(b),
                                     "method": "OLS of out-of-fold gait age on chronological age"}
            heads[head.key] = head
            rep_meta[head.key] = {"chosen": rep, "outer_fold_wins": wins[t], "columns": int(len(reps[rep]))}
            done_heads += 1
            tell(stage="fit", target=head.key)
    meta = {
        "format": FORMAT, "probe_version": PROBE_VERSION, "method": METHOD,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "embedding_model_version": str(embedding_model_version), "feature_set": "+".join(reps),
        "task_mode": "mean", "tasks": None, "columns": list(columns),
        "targets": list(dict.fromkeys(h.target for h in heads.values())),
        "n_training_subjects": int(len(np.unique(groups))), "n_training_sessions": int(len(X)),
        "provenance": {"cohort": cohort, "source": source, "demonstration_only": cohort == "synthetic"},
        "interval_level": config.level, "representation": rep_meta,
        "fit_s": round(time.perf_counter() - t0, 2),
    }
    return Predictor(meta, heads)


PRIMARY = {"ridge": ("r2", True), "logistic": ("auc", True)}  # (metric, higher is better)


def evaluate(predictor: Predictor, X: np.ndarray, columns: list[str], Y: np.ndarray, targets: list[str],
             sex: np.ndarray | None = None) -> dict[str, dict]:
    """Metrics of ``predictor`` on a held-out set, per head target: ``{target: {r2, r, mae, n} | {auc, n}}``."""
    from .metrics import mae, pearson_r, r2_score, roc_auc

    preds = predictor.predict(np.asarray(X, float), columns, sex=sex)
    out = {}
    for j, t in enumerate(targets):
        if t not in predictor.meta["targets"]:
            continue
        y = np.asarray(Y[:, j], float)
        p = np.array([(r.get(t) or {}).get("probability", (r.get(t) or {}).get("value", np.nan)) for r in preds], float)
        ok = np.isfinite(y) & np.isfinite(p)
        if ok.sum() < 3:
            continue
        kinds = {h.kind for h in predictor.heads.values() if h.target == t}
        if "logistic" in kinds:
            out[t] = {"auc": float(roc_auc(y[ok, None], p[ok, None])[0]), "n": int(ok.sum())}
        else:
            out[t] = {"r2": float(r2_score(y[ok, None], p[ok, None])[0]), "r": float(pearson_r(y[ok, None], p[ok, None])[0]),
                      "mae": float(mae(y[ok, None], p[ok, None])[0]), "n": int(ok.sum())}
    return out


def compare(candidate: dict[str, dict], champion: dict[str, dict], margin: float) -> list[str]:
    """Reasons the candidate is worse than the champion on the same evaluation set (empty: not worse).

    Per target of the champion: the primary metric (R^2 for continuous targets, AUC for binary ones) may
    not fall by more than ``margin``; a target the champion predicts and the candidate does not is worse."""
    reasons = []
    for t, ch in sorted(champion.items()):
        metric = "auc" if "auc" in ch else "r2"
        ca = candidate.get(t)
        if ca is None or ca.get(metric) is None:
            reasons.append(f"{t}: the champion predicts it, the candidate does not")
            continue
        if ca[metric] < ch[metric] - margin:
            reasons.append(f"{t}: {metric} {ca[metric]:.3f} < champion {ch[metric]:.3f} - margin {margin}")
    return reasons


__all__ = ["REPRESENTATIONS", "FitConfig", "Cancelled", "fit_heads", "evaluate", "compare", "session_row",
           "representation_columns", "body_feature_names"]
