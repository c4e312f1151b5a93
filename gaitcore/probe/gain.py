"""Predictive gain: does gait add information beyond the covariates?

For every target (and stratum, e.g. sex) and seed ``s``:
``gain_s = score(gait + covariates)_s - score(covariates)_s`` where both models were evaluated on the
same nested folds of seed ``s`` (score = Pearson r, or AUC for binary targets). The gain is tested with
a one-sided Wilcoxon signed-rank test over the seeds (H1: gain > 0; exact null distribution for
< 50 seeds, zero differences dropped), and the p-values of all tests of a feature set are
Benjamini-Hochberg adjusted; significant = q < ``FDR`` (0.1).

Caveat of the paper's test: seeds resample the *folds*, not the people, so it asks "is the gain
consistently positive across fold assignments" -- any chance association of this particular sample
passes it, and out-of-fold Pearson r of a model without signal is biased *below* zero (the training-
fold mean is anti-correlated with the held-out values), so a noisy covariate model with r < 0 makes
a "gain" out of nothing. On the synthetic cohort the paper's test alone flagged 3 of 18 phenotypes
without gait signal (17 %). We therefore also compute a subject-level test:

* ``p_boot``: cluster bootstrap over subjects (``N_BOOT`` replicates) of the gain computed on the
  out-of-fold predictions averaged over seeds; one-sided p = share of replicates with gain <= 0;
  Benjamini-Hochberg -> ``q_boot``.

``significant_paper`` = q < FDR (Wilcoxon over seeds) and gain > 0, as in the paper.
``significant`` (the default criterion everywhere) = ``significant_paper`` and q_boot < FDR and the
gait+covariates model actually predicts (mean score_full > 0, or AUC > 0.5).
"""

from __future__ import annotations

import numpy as np

FDR = 0.1
N_BOOT = 1000


def bootstrap_gain_p(y: np.ndarray, p_full: np.ndarray, p_cov: np.ndarray, groups: np.ndarray, binary: bool,
                     n_boot: int = N_BOOT, seed: int = 0) -> float:
    """One-sided cluster-bootstrap p-value (resampling subjects) that score(p_full) - score(p_cov) > 0."""
    ok = np.isfinite(y) & np.isfinite(p_full) & np.isfinite(p_cov)
    y, a, b, g = y[ok], p_full[ok], p_cov[ok], np.asarray(groups)[ok]
    if len(y) < 10:
        return 1.0
    uniq, inv = np.unique(g, return_inverse=True)
    members = [np.flatnonzero(inv == k) for k in range(len(uniq))]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(uniq), size=(n_boot, len(uniq)))
    if all(len(m) == 1 for m in members):
        idx = np.asarray([m[0] for m in members])[picks]
    else:  # ragged clusters: concatenate per replicate (slower path)
        idx = None
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        rows = idx[i] if idx is not None else np.concatenate([members[k] for k in picks[i]])
        yy = y[rows]
        if binary:
            from .metrics import roc_auc

            diffs[i] = roc_auc(yy, a[rows])[0] - roc_auc(yy, b[rows])[0]
        else:
            diffs[i] = _r(yy, a[rows]) - _r(yy, b[rows])
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) == 0:
        return 1.0
    return float((1 + (diffs <= 0).sum()) / (len(diffs) + 1))


def _r(y: np.ndarray, p: np.ndarray) -> float:
    y = y - y.mean()
    p = p - p.mean()
    den = np.sqrt((y * y).sum() * (p * p).sum())
    return float((y * p).sum() / den) if den > 0 else np.nan


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


def _centre_boot(boot: dict) -> dict:
    """Fold-centre y and predictions of the bootstrap inputs when outer fold ids are given."""
    if boot is None or boot.get("folds") is None:
        return boot
    from .metrics import fold_centre

    f = boot["folds"]
    return {**boot, "y": fold_centre(boot["y"], f), "full": fold_centre(boot["full"], f), "cov": fold_centre(boot["cov"], f)}


def gain_rows(score_full: np.ndarray, score_cov: np.ndarray, targets: list[str], label: dict,
              boot: dict | None = None) -> list[dict]:
    """Rows (one per target) of the gain table for one feature set and stratum; ``score_* [seeds, T]``.

    ``boot``: ``{"y": [n, T], "full": [n, T], "cov": [n, T], "groups": [n], "binary": [T]}`` -- out-of-fold
    predictions averaged over seeds -- adds the subject-bootstrap p-value ``p_boot``.
    """
    rows = []
    bootc = _centre_boot(boot)
    for j, t in enumerate(targets):
        d = score_full[:, j] - score_cov[:, j]
        row = {**label, "target": t,
               "score_cov": float(np.nanmean(score_cov[:, j])), "score_full": float(np.nanmean(score_full[:, j])),
               "gain": float(np.nanmean(d)) if np.isfinite(d).any() else np.nan,
               "gain_sd": float(np.nanstd(d, ddof=1)) if np.isfinite(d).sum() > 1 else np.nan,
               "n_seeds": int(np.isfinite(d).sum()), "p": wilcoxon_greater(d)}
        if boot is not None:
            row["binary"] = bool(boot["binary"][j])
            b = boot if boot["binary"][j] else bootc
            row["p_boot"] = bootstrap_gain_p(b["y"][:, j], b["full"][:, j], b["cov"][:, j], b["groups"],
                                             bool(boot["binary"][j]), seed=j)
        rows.append(row)
    return rows


def add_fdr(rows: list[dict], by: str = "feature_set", fdr: float = FDR) -> list[dict]:
    """Add ``q`` and ``significant`` to gain rows, BH-adjusting within each value of ``by``."""
    keys = sorted({r[by] for r in rows})
    for k in keys:
        sel = [r for r in rows if r[by] == k]
        q = benjamini_hochberg(np.array([r["p"] for r in sel]))
        qb = benjamini_hochberg(np.array([r.get("p_boot", np.nan) for r in sel]))
        for r, qi, qbi in zip(sel, q, qb, strict=False):
            r["q"] = float(qi)
            r["significant_paper"] = bool(np.isfinite(qi) and qi < fdr and r["gain"] > 0)
            chance = 0.5 if r.get("binary") else 0.0
            if "p_boot" in r:
                r["q_boot"] = float(qbi)
                r["significant"] = bool(r["significant_paper"] and np.isfinite(qbi) and qbi < fdr
                                        and r["score_full"] > chance)
            else:
                r["significant"] = r["significant_paper"]
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
    per stratum; for both criteria (``significant`` and the paper's ``significant_paper``).
    """
    phen = truth.get("phenotypes", truth)
    out = []
    for crit in ("significant", "significant_paper"):
        out += _detection(rows, phen, crit)
    return out


def detection_by_factor(rows: list[dict], truth: dict, crit: str = "significant") -> list[dict]:
    """Against ``truth.json``: per feature set and per gait-linked latent factor of the generator (what
    the factor does to gait is in ``truth["latent_factors"]["gait_effects"]``), how many of the
    phenotypes that load on it -- and carry gait signal beyond covariates -- gain significantly in
    either stratum. Shows which kinds of gait change a representation picks up."""
    phen = truth.get("phenotypes", {})
    factors = truth.get("latent_factors", {}).get("gait_linked", [])
    out = []
    for fs in sorted({r["feature_set"] for r in rows}):
        hit: dict[str, bool] = {}
        for r in rows:
            if r["feature_set"] == fs and r["target"] in phen:
                hit[r["target"]] = hit.get(r["target"], False) or bool(r.get(crit, False))
        for f in factors:
            targets = [t for t in hit if f in phen[t].get("gait_linked_factors", [])
                       and phen[t].get("gait_signal_beyond_covariates")]
            out.append({"criterion": "paper" if crit == "significant_paper" else "paper+bootstrap",
                        "feature_set": fs, "factor": f, "n_phenotypes": len(targets),
                        "detected": sum(hit[t] for t in targets)})
    return out


def _detection(rows: list[dict], phen: dict, crit: str) -> list[dict]:
    out = []
    for fs in sorted({r["feature_set"] for r in rows}):
        sel = [r for r in rows if r["feature_set"] == fs and r["target"] in phen]
        strata = sorted({r["stratum"] for r in sel})
        for st in [*strata, "any"]:
            pos = {}
            for r in sel:
                if st != "any" and r["stratum"] != st:
                    continue
                pos[r["target"]] = pos.get(r["target"], False) or r.get(crit, False)
            sig = [t for t in pos if phen[t].get("gait_signal_beyond_covariates")]
            nos = [t for t in pos if not phen[t].get("gait_signal_beyond_covariates")]
            out.append({"criterion": "paper" if crit == "significant_paper" else "paper+bootstrap",
                        "feature_set": fs, "stratum": st,
                        "n_with_signal": len(sig), "detected_with_signal": sum(pos[t] for t in sig),
                        "rate_with_signal": (sum(pos[t] for t in sig) / len(sig)) if sig else np.nan,
                        "n_without_signal": len(nos), "detected_without_signal": sum(pos[t] for t in nos),
                        "rate_without_signal": (sum(pos[t] for t in nos) / len(nos)) if nos else np.nan})
    return out
