"""Predictive gain: does gait add information beyond the covariates?

For every target (and stratum, e.g. sex) and seed ``s``:
``gain_s = score(gait + covariates)_s - score(covariates)_s`` where both models were evaluated on the
same nested folds of seed ``s`` (score = Pearson r, or AUC for binary targets). The gain is tested with
a one-sided Wilcoxon signed-rank test over the seeds (H1: gain > 0; exact null distribution for
< 50 seeds, zero differences dropped), and the p-values of all tests of a feature set are
Benjamini-Hochberg adjusted; significant = q < ``FDR`` (0.1).

Caveat (kept from the paper's method): seeds resample the *folds*, not the people, so the test asks
"is the gain consistently positive across fold assignments", a low bar when a small gain is stable.
The table therefore reports the gain size next to q, and the detection bench checks the error rate
on phenotypes the synthetic generator built without any gait signal.
"""

from __future__ import annotations

import numpy as np

FDR = 0.1


def wilcoxon_greater(diffs: np.ndarray) -> float:
    """One-sided Wilcoxon signed-rank p-value for median(diffs) > 0 (1.0 when all diffs are zero/NaN)."""
    from scipy.stats import wilcoxon

    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    d = d[np.abs(d) > 1e-12]
    if len(d) == 0:
        return 1.0
    return float(wilcoxon(d, alternative="greater", zero_method="wilcox").pvalue)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted q-values (NaN p-values stay NaN and are not counted)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def gain_rows(score_full: np.ndarray, score_cov: np.ndarray, targets: list[str], label: dict) -> list[dict]:
    """Rows (one per target) of the gain table for one feature set and stratum; ``score_* [seeds, T]``."""
    rows = []
    for j, t in enumerate(targets):
        d = score_full[:, j] - score_cov[:, j]
        rows.append({**label, "target": t,
                     "score_cov": float(np.nanmean(score_cov[:, j])), "score_full": float(np.nanmean(score_full[:, j])),
                     "gain": float(np.nanmean(d)) if np.isfinite(d).any() else np.nan,
                     "gain_sd": float(np.nanstd(d, ddof=1)) if np.isfinite(d).sum() > 1 else np.nan,
                     "n_seeds": int(np.isfinite(d).sum()), "p": wilcoxon_greater(d)})
    return rows


def add_fdr(rows: list[dict], by: str = "feature_set", fdr: float = FDR) -> list[dict]:
    """Add ``q`` and ``significant`` to gain rows, BH-adjusting within each value of ``by``."""
    keys = sorted({r[by] for r in rows})
    for k in keys:
        sel = [r for r in rows if r[by] == k]
        q = benjamini_hochberg(np.array([r["p"] for r in sel]))
        for r, qi in zip(sel, q):
            r["q"] = float(qi)
            r["significant"] = bool(np.isfinite(qi) and qi < fdr and r["gain"] > 0)
    return rows


def system_summary(rows: list[dict], system_of: dict[str, str]) -> list[dict]:
    """Per feature set, stratum and body system: targets, how many gain significantly, median gain."""
    out = []
    keys = sorted({(r["feature_set"], r["stratum"], system_of.get(r["target"], "other")) for r in rows})
    for fs, st, sysname in keys:
        sel = [r for r in rows if r["feature_set"] == fs and r["stratum"] == st
               and system_of.get(r["target"], "other") == sysname]
        g = np.array([r["gain"] for r in sel], dtype=float)
        out.append({"feature_set": fs, "stratum": st, "system": sysname, "n_targets": len(sel),
                    "n_significant": int(sum(r["significant"] for r in sel)),
                    "median_gain": float(np.nanmedian(g)) if np.isfinite(g).any() else np.nan,
                    "any_significant": bool(any(r["significant"] for r in sel))})
    return out


def detection_rates(rows: list[dict], truth: dict) -> list[dict]:
    """Against a synthetic generator's ``truth.json``: share of targets with significant gain among
    those whose truth says gait carries signal beyond covariates, and among those where it does not.

    A target counts as detected when any stratum (e.g. either sex) is significant, and, separately,
    per stratum.
    """
    phen = truth.get("phenotypes", truth)
    out = []
    for fs in sorted({r["feature_set"] for r in rows}):
        sel = [r for r in rows if r["feature_set"] == fs and r["target"] in phen]
        strata = sorted({r["stratum"] for r in sel})
        for st in [*strata, "any"]:
            pos = {}
            for r in sel:
                if st != "any" and r["stratum"] != st:
                    continue
                pos[r["target"]] = pos.get(r["target"], False) or r["significant"]
            sig = [t for t in pos if phen[t].get("gait_signal_beyond_covariates")]
            nos = [t for t in pos if not phen[t].get("gait_signal_beyond_covariates")]
            out.append({"feature_set": fs, "stratum": st,
                        "n_with_signal": len(sig), "detected_with_signal": sum(pos[t] for t in sig),
                        "rate_with_signal": (sum(pos[t] for t in sig) / len(sig)) if sig else np.nan,
                        "n_without_signal": len(nos), "detected_without_signal": sum(pos[t] for t in nos),
                        "rate_without_signal": (sum(pos[t] for t in nos) / len(nos)) if nos else np.nan})
    return out
