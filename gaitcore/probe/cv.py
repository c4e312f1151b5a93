"""Nested cross-validation grouped by participant, repeated over seeds.

Protocol (the paper, docs/science.md#downstream-evaluation): outer 5-fold, inner 4-fold, both grouped by subject (every row of a
subject -- several visits, several sessions -- lands in the same fold), x 15 seeds. Inside every fold
the pipeline is median imputation + StandardScaler (fitted on the training rows only) + a linear head:

* continuous targets: Ridge with alpha chosen on the inner folds from ``ALPHAS`` (0.1 .. 1000);
* binary targets (two distinct values, detected or declared): L2 logistic regression with C chosen on the
  inner folds from ``LOGISTIC_CS`` (inner criterion: pooled log-loss).

Speed. Ridge is solved for all alphas and all targets of a panel at once: one SVD (or, when there are
more columns than rows, one eigendecomposition of the Gram matrix) of the standardised training block
gives the predictions for every alpha as cheap matrix products. This is exactly the estimator of
``StandardScaler + Ridge(alpha)`` with a grid search over the inner grouped folds (pooled inner MSE),
not an approximation; we deliberately do *not* use RidgeCV's GCV / leave-one-out shortcut because
leave-one-out ignores the grouping (repeat visits of one subject would leak into each other). Targets
with missing values are solved in groups that share the same missingness pattern.

Folds depend only on ``(groups, seed)``, so every model and feature set evaluated with the same seed
sees the same splits: score differences between them are paired (needed for the Wilcoxon test over
seeds in :mod:`.gain`).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

ALPHAS = np.logspace(-1, 3, 9)  # 0.1, 0.316, 1, ..., 1000
LOGISTIC_CS = 1.0 / np.logspace(-1, 3, 5)  # C = 1/alpha for alpha 0.1, 1, 10, 100, 1000
OUTER, INNER = 5, 4


# --- folds ------------------------------------------------------------------------------------------
def grouped_fold_ids(groups: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """Fold index (0..n_splits-1) per row; all rows of a group share a fold.

    Groups are shuffled, then dealt largest-first to the currently smallest fold, so folds are
    balanced in rows even when subjects have different numbers of visits.
    """
    uniq, inv = np.unique(np.asarray(groups), return_inverse=True)
    if len(uniq) < n_splits:
        raise ValueError(f"{len(uniq)} groups cannot fill {n_splits} folds")
    counts = np.bincount(inv)
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of = np.empty(len(uniq), dtype=np.int64)
    sizes = np.zeros(n_splits)
    for g in order:
        f = int(np.argmin(sizes))
        fold_of[g] = f
        sizes[f] += counts[g]
    return fold_of[inv]


@dataclass
class Folds:
    """Outer fold id per row and, per outer fold, inner fold ids (-1 on the outer test rows)."""

    outer: np.ndarray
    inner: list[np.ndarray]

    def subset(self, rows: np.ndarray) -> Folds:
        return Folds(self.outer[rows], [i[rows] for i in self.inner])


def make_folds(groups: np.ndarray, seed: int, outer: int = OUTER, inner: int = INNER) -> Folds:
    """Deterministic nested grouped folds for one seed."""
    groups = np.asarray(groups)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 6061]))
    out = grouped_fold_ids(groups, outer, rng)
    inn = []
    for k in range(outer):
        ids = np.full(len(groups), -1, dtype=np.int64)
        tr = out != k
        ids[tr] = grouped_fold_ids(groups[tr], inner, rng)
        inn.append(ids)
    return Folds(out, inn)


# --- fold-local preprocessing -----------------------------------------------------------------------
def standardise(Xtr: np.ndarray, Xte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median-impute NaN and z-score with statistics of the training rows only (constant columns -> 0)."""
    if np.isnan(Xtr).any() or np.isnan(Xte).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(Xtr, axis=0)
        med = np.where(np.isfinite(med), med, 0.0)
        Xtr = np.where(np.isnan(Xtr), med, Xtr)
        Xte = np.where(np.isnan(Xte), med, Xte)
    mu = Xtr.mean(axis=0)
    sd = Xtr.std(axis=0)
    sd = np.where(sd > 1e-12, sd, np.inf)  # constant column -> all zeros
    return (Xtr - mu) / sd, (Xte - mu) / sd


# --- ridge for every alpha at once ------------------------------------------------------------------
def thin_svd(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``U, s, Vt`` of ``X`` (thin). LAPACK's divide-and-conquer driver (gesdd, numpy's) can fail to
    converge; it did once, in a joblib worker, during the men's Romberg block of a 3,414-subject embedding
    probe (1,395 x 1,024 training blocks, 42 % of rows one imputed median row; not reproduced when those
    folds were decomposed again outside the worker). The QR-based driver (gesvd) is tried then: the same
    decomposition by a slower, more robust route."""
    try:
        return np.linalg.svd(X, full_matrices=False)
    except np.linalg.LinAlgError:
        from scipy.linalg import svd

        return svd(X, full_matrices=False, lapack_driver="gesvd", check_finite=True)


def ridge_path(Xtr: np.ndarray, Ytr: np.ndarray, Xte: np.ndarray, alphas: np.ndarray = ALPHAS) -> np.ndarray:
    """Predictions ``[n_alpha, n_test, n_targets]`` of ridge (with intercept) on standardised inputs.

    Same estimator as ``sklearn.linear_model.Ridge(alpha)`` fitted on ``(Xtr, Ytr)`` (centred ``Xtr``).
    """
    Ytr = np.asarray(Ytr, dtype=np.float64)
    if Ytr.ndim == 1:
        Ytr = Ytr[:, None]
    ym = Ytr.mean(axis=0)
    Yc = Ytr - ym
    n, p = Xtr.shape
    alphas = np.asarray(alphas, dtype=np.float64)
    if p > n:  # kernel form: w = X^T U diag(1/(s2+a)) U^T y
        from scipy.linalg import eigh

        s2, U = eigh(Xtr @ Xtr.T, driver="evr")
        s2 = np.clip(s2, 0.0, None)
        A = (Xte @ Xtr.T) @ U
        B = U.T @ Yc
        filt = 1.0 / (s2[None, :] + alphas[:, None])  # [n_alpha, n]
    else:  # primal SVD: w = V diag(s/(s2+a)) U^T y
        U, s, Vt = thin_svd(Xtr)
        A = Xte @ Vt.T
        B = U.T @ Yc
        filt = s[None, :] / (s[None, :] ** 2 + alphas[:, None])
    out = np.empty((len(alphas), A.shape[0], B.shape[1]))
    for i in range(len(alphas)):
        out[i] = (A * filt[i]) @ B + ym
    return out


def ridge_coef(Xs: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of ridge on standardised (centred) inputs ``Xs``."""
    y = np.asarray(y, dtype=np.float64)
    ym = float(y.mean())
    U, s, Vt = thin_svd(Xs)
    w = Vt.T @ ((s / (s**2 + alpha)) * (U.T @ (y - ym)))
    return w, ym


def fit_predict_path(Xtr: np.ndarray, Ytr: np.ndarray, Xte: np.ndarray, alphas: np.ndarray = ALPHAS,
                     Ctr: np.ndarray | None = None, Cte: np.ndarray | None = None) -> np.ndarray:
    """Fold-local pipeline: impute + standardise, then ridge for every alpha -> ``[A, n_te, T]``.

    With covariates ``C``, they enter *unpenalized* next to the penalized ``X`` (exactly, by
    Frisch-Waugh-Lovell: ``X`` and ``Y`` are residualised on ``[1, C]`` with OLS fitted on the training
    rows, ridge runs on the residuals, and the OLS covariate part is added back to the predictions).
    """
    Xa, Xb = standardise(Xtr, Xte)
    if Ctr is None or Ctr.shape[1] == 0:
        return ridge_path(Xa, Ytr, Xb, alphas)
    Ca, Cb = standardise(Ctr, Cte)
    Ca = np.column_stack([np.ones(len(Ca)), Ca])
    Cb = np.column_stack([np.ones(len(Cb)), Cb])
    G = np.linalg.lstsq(Ca, np.column_stack([Xa, Ytr]), rcond=None)[0]
    p = Xa.shape[1]
    Xa, Xb = Xa - Ca @ G[:, :p], Xb - Cb @ G[:, :p]
    Yres = Ytr - Ca @ G[:, p:]
    return ridge_path(Xa, Yres, Xb, alphas) + (Cb @ G[:, p:])[None]


def select_ridge_alpha(X: np.ndarray, Y: np.ndarray, inner: np.ndarray, alphas: np.ndarray = ALPHAS,
                       C: np.ndarray | None = None) -> np.ndarray:
    """Index into ``alphas`` per target minimising pooled inner-fold MSE (rows with ``inner`` < 0 unused)."""
    sse = np.zeros((len(alphas), Y.shape[1]))
    for j in np.unique(inner[inner >= 0]):
        a, b = (inner >= 0) & (inner != j), inner == j
        P = fit_predict_path(X[a], Y[a], X[b], alphas, None if C is None else C[a], None if C is None else C[b])
        sse += ((P - Y[b][None]) ** 2).sum(axis=1)
    return sse.argmin(axis=0)


def _nested_ridge(X: np.ndarray, Y: np.ndarray, folds: Folds, alphas: np.ndarray,
                  C: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions ``[n, T]`` and chosen alpha ``[outer, T]`` for a panel without NaN."""
    n_out = int(folds.outer.max()) + 1
    oof = np.full(Y.shape, np.nan)
    chosen = np.full((n_out, Y.shape[1]), np.nan)
    for k in range(n_out):
        tr, te = folds.outer != k, folds.outer == k
        Ctr, Cte = (None, None) if C is None else (C[tr], C[te])
        best = select_ridge_alpha(X[tr], Y[tr], folds.inner[k][tr], alphas, Ctr)
        P = fit_predict_path(X[tr], Y[tr], X[te], alphas, Ctr, Cte)  # [A, n_te, T]
        oof[te] = np.take_along_axis(P, best[None, None, :], axis=0)[0]
        chosen[k] = alphas[best]
    return oof, chosen


# --- logistic regression ----------------------------------------------------------------------------
def _logistic_path(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, Cs: np.ndarray) -> np.ndarray:
    """P(y=1) on ``Xte`` for every C (ascending C, warm-started)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    out = np.empty((len(Cs), len(Xte)))
    order = np.argsort(Cs)
    clf = LogisticRegression(C=float(Cs[order[0]]), max_iter=300, warm_start=True, tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i in order:
            clf.set_params(C=float(Cs[i]))
            clf.fit(Xtr, ytr)
            out[i] = clf.predict_proba(Xte)[:, 1]
    return out


UNPEN_SCALE = 30.0  # logistic: covariate columns x 30 after scaling -> their penalty is 900x weaker


def _nested_logistic(X: np.ndarray, y: np.ndarray, folds: Folds, Cs: np.ndarray,
                     C: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    if C is not None and C.shape[1]:
        X = np.column_stack([X, C])
        boost = np.r_[np.ones(X.shape[1] - C.shape[1]), np.full(C.shape[1], UNPEN_SCALE)]
    else:
        boost = None
    n_out = int(folds.outer.max()) + 1
    oof = np.full(len(y), np.nan)
    chosen = np.full(n_out, np.nan)
    y = (np.asarray(y) > 0.5).astype(int)
    for k in range(n_out):
        tr, te = folds.outer != k, folds.outer == k
        if len(np.unique(y[tr])) < 2:  # degenerate fold: predict the base rate
            oof[te] = y[tr].mean()
            continue
        inner = folds.inner[k]
        loss = np.zeros(len(Cs))
        for j in np.unique(inner[tr]):
            a, b = tr & (inner != j), inner == j
            if len(np.unique(y[a])) < 2:
                continue
            Xa, Xb = standardise(X[a], X[b])
            if boost is not None:
                Xa, Xb = Xa * boost, Xb * boost
            P = np.clip(_logistic_path(Xa, y[a], Xb, Cs), 1e-9, 1 - 1e-9)
            loss -= (y[b] * np.log(P) + (1 - y[b]) * np.log(1 - P)).sum(axis=1)
        best = int(np.argmin(loss))
        Xa, Xb = standardise(X[tr], X[te])
        if boost is not None:
            Xa, Xb = Xa * boost, Xb * boost
        oof[te] = _logistic_path(Xa, y[tr], Xb, Cs[best:best + 1])[0]
        chosen[k] = 1.0 / Cs[best]  # reported as the equivalent alpha
    return oof, chosen


# --- driver -----------------------------------------------------------------------------------------
def detect_binary(Y: np.ndarray) -> np.ndarray:
    """True for columns whose non-missing values are exactly two distinct values, both in {0, 1}."""
    Y = np.asarray(Y, dtype=np.float64)
    out = np.zeros(Y.shape[1], bool)
    for j in range(Y.shape[1]):
        v = np.unique(Y[np.isfinite(Y[:, j]), j])
        out[j] = len(v) == 2 and set(v.tolist()) <= {0.0, 1.0}
    return out


@dataclass
class CVResult:
    """Out-of-fold predictions ``oof[seed, row, target]`` and chosen penalties ``alpha[seed, outer, target]``."""

    seeds: list[int]
    oof: np.ndarray
    alpha: np.ndarray
    binary: np.ndarray
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)


def _one_seed(X, Y, groups, binary, seed, alphas, Cs, outer, inner, limit_threads, C=None):
    from threadpoolctl import threadpool_limits

    # one BLAS thread per job: multi-threaded OpenBLAS on 2 shared cores is up to 10x *slower* here
    with threadpool_limits(1 if limit_threads else 1):
        folds = make_folds(groups, seed, outer, inner)
        n, T = Y.shape
        oof = np.full((n, T), np.nan)
        chosen = np.full((outer, T), np.nan)
        finite = np.isfinite(Y)
        cont = np.flatnonzero(~binary)
        # continuous targets: one ridge panel per missingness pattern
        patterns: dict[bytes, list[int]] = {}
        for t in cont:
            patterns.setdefault(finite[:, t].tobytes(), []).append(int(t))
        for cols in patterns.values():
            rows = finite[:, cols[0]]
            if rows.sum() < outer * inner:
                continue
            o, a = _nested_ridge(X[rows], Y[np.ix_(rows, cols)], folds.subset(rows), alphas,
                                 None if C is None else C[rows])
            oof[np.ix_(rows, cols)] = o
            chosen[:, cols] = a
        for t in np.flatnonzero(binary):
            rows = finite[:, t]
            if rows.sum() < outer * inner:
                continue
            o, a = _nested_logistic(X[rows], Y[rows, t], folds.subset(rows), Cs, None if C is None else C[rows])
            oof[rows, t] = o
            chosen[:, t] = a
    return oof, chosen


def nested_cv(
    X: np.ndarray,
    Y: np.ndarray,
    groups: np.ndarray,
    seeds: list[int] | int = 15,
    binary: np.ndarray | None = None,
    alphas: np.ndarray = ALPHAS,
    Cs: np.ndarray = LOGISTIC_CS,
    outer: int = OUTER,
    inner: int = INNER,
    n_jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    label: str = "",
    covariates: np.ndarray | None = None,
) -> CVResult:
    """Nested grouped CV of one feature matrix ``X [n, p]`` against a panel ``Y [n, T]`` (NaN = missing).

    ``seeds``: a count (0..k-1) or explicit list. Parallel over seeds with joblib (``n_jobs``; BLAS
    is limited to one thread per worker when ``n_jobs > 1``).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    groups = np.asarray(groups)
    if not (len(X) == len(Y) == len(groups)):
        raise ValueError("X, Y and groups must have the same number of rows")
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    binary = detect_binary(Y) if binary is None else np.asarray(binary, bool)
    t0 = time.perf_counter()
    args = (X, Y, groups, binary)
    Cv = None if covariates is None else np.asarray(covariates, dtype=np.float64)
    if n_jobs == 1:
        res = []
        for i, s in enumerate(seeds, 1):
            res.append(_one_seed(*args, s, alphas, Cs, outer, inner, False, Cv))
            if progress:
                progress(f"{label} seed {i}/{len(seeds)} ({time.perf_counter() - t0:.1f} s)")
    else:
        from joblib import Parallel, delayed

        gen = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_one_seed)(*args, s, alphas, Cs, outer, inner, True, Cv) for s in seeds)
        res = []
        for i, r in enumerate(gen, 1):
            res.append(r)
            if progress:
                progress(f"{label} seed {i}/{len(seeds)} ({time.perf_counter() - t0:.1f} s)")
    oof = np.stack([r[0] for r in res]).astype(np.float32)
    alpha = np.stack([r[1] for r in res])
    return CVResult(seeds, oof, alpha, binary, time.perf_counter() - t0)


def stderr_progress(msg: str) -> None:
    """Default progress sink: one line on stderr."""
    print(msg, file=sys.stderr, flush=True)
