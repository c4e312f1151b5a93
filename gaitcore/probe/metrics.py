"""Scores of out-of-fold predictions: Pearson r, R2, MAE (continuous) and ROC AUC (binary).

All functions work column-wise on ``[n, T]`` arrays (one column per target) so a whole panel of
targets is scored at once; NaN in ``y`` marks a missing value and is ignored per column.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _cols(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def pearson_r(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Pearson correlation per column (NaN when a column is constant or has < 3 values)."""
    y, p = _cols(y), _cols(p)
    out = np.full(y.shape[1], np.nan)
    for j in range(y.shape[1]):
        ok = np.isfinite(y[:, j]) & np.isfinite(p[:, j])
        if ok.sum() < 3:
            continue
        a = y[ok, j] - y[ok, j].mean()
        b = p[ok, j] - p[ok, j].mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        out[j] = (a * b).sum() / den if den > 0 else np.nan
    return out


def r2_score(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Coefficient of determination 1 - SSE/SST per column (out-of-fold: can be negative)."""
    y, p = _cols(y), _cols(p)
    out = np.full(y.shape[1], np.nan)
    for j in range(y.shape[1]):
        ok = np.isfinite(y[:, j]) & np.isfinite(p[:, j])
        if ok.sum() < 2:
            continue
        sst = ((y[ok, j] - y[ok, j].mean()) ** 2).sum()
        out[j] = 1.0 - ((y[ok, j] - p[ok, j]) ** 2).sum() / sst if sst > 0 else np.nan
    return out


def mae(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Mean absolute error per column."""
    y, p = _cols(y), _cols(p)
    d = np.abs(y - p)
    with np.errstate(invalid="ignore"):
        return np.array([np.nanmean(d[:, j]) if np.isfinite(d[:, j]).any() else np.nan for j in range(d.shape[1])])


def roc_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC AUC per column by the rank (Mann-Whitney) formula; ``y`` in {0, 1}. NaN if one class is absent."""
    y, p = _cols(y), _cols(p)
    out = np.full(y.shape[1], np.nan)
    for j in range(y.shape[1]):
        ok = np.isfinite(y[:, j]) & np.isfinite(p[:, j])
        yy, pp = y[ok, j] > 0.5, p[ok, j]
        n1, n0 = int(yy.sum()), int((~yy).sum())
        if n1 == 0 or n0 == 0:
            continue
        r = rankdata(pp)
        out[j] = (r[yy].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return out


def fold_centre(a: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """``a [n, T]`` with each outer fold's column means removed (NaN-aware)."""
    a = _cols(a).copy()
    for k in np.unique(folds):
        m = folds == k
        with np.errstate(invalid="ignore"):
            mu = np.nanmean(np.where(np.isfinite(a[m]), a[m], np.nan), axis=0) if m.any() else 0.0
        a[m] -= mu
    return a


def score_panel(y: np.ndarray, p: np.ndarray, binary: np.ndarray, folds: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All scores of a panel: ``r``, ``r2``, ``mae`` for every column, ``auc`` for binary columns
    (NaN elsewhere). ``score`` is the headline metric: AUC for binary, Pearson r otherwise.

    With the outer fold ids ``folds``, ``r`` is the *pooled within-fold* correlation (y and predictions
    centred per outer fold before pooling) and ``r_pooled`` the plain pooled one. Why: out-of-fold
    predictions carry each fold's training mean, which is anti-correlated with the held-out fold's
    mean; for a model without signal that makes the pooled r clearly negative (about -0.09 with 500
    people and 5 folds here), and a difference of two such r's (predictive gain) turns that bias into
    a spurious "gain". Centring per fold removes the between-fold term; with signal both agree closely.
    """
    binary = np.asarray(binary, bool)
    r_pooled = pearson_r(y, p)
    r = pearson_r(fold_centre(y, folds), fold_centre(p, folds)) if folds is not None else r_pooled
    r2, m = r2_score(y, p), mae(y, p)
    auc = np.full(r.shape, np.nan)
    if binary.any():
        auc[binary] = roc_auc(_cols(y)[:, binary], _cols(p)[:, binary])
    score = np.where(binary, auc, r)
    return {"score": score, "r": r, "r_pooled": r_pooled, "r2": r2, "mae": m, "auc": auc}
