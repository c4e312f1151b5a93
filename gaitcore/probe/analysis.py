"""The whole probe: feature sets x strata x models, scores per seed, predictive gain.

Models per stratum (all rows, or each sex with ``by_sex``):

* ``covariates``        -- covariates alone (age, sex, BMI, VAT, height by default; sex is dropped inside a
  sex stratum), for every phenotype target;
* ``gait``              -- the feature set alone, for every target including the covariates themselves
  (age, BMI, ... -> "gait age", "gait BMI"; sex as a binary target when not stratified by sex);
* ``gait+covariates``   -- feature set and covariates side by side, for every phenotype target. By default
  the covariates enter unpenalized (ridge penalizes only the gait columns; exact, via residualisation
  inside each training fold), so the full model can always fall back to the covariate model and a
  gait representation with hundreds of columns does not shrink the covariates' effect away;
  ``penalize_covariates=True`` gives the paper-literal single ridge over the concatenation.

Predictive gain = score(gait+covariates) - score(covariates) per seed (see :mod:`.gain`). Covariates
are not gain targets (they would be their own predictors).

Task ensemble (``task_mode="ensemble"``, the paper's method): a feature set whose session matrix has
task blocks is fitted once per task (same folds, same pipeline, covariates in every per-task model) and
the out-of-fold predictions (probabilities for binary targets) are averaged over the tasks a session
has; the scores are computed on that average (:func:`cv_feature_set`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import gain as gainmod
from .cv import ALPHAS, INNER, LOGISTIC_CS, OUTER, UNPEN_SCALE, CVResult, detect_binary, make_folds, nested_cv
from .metrics import score_panel
from .tables import SessionMatrix, Table, phenotype_keys

DEFAULT_COVARIATES = ("age", "sex", "bmi", "vat", "height")
META_COLUMNS = ("visit", "years_since_baseline", "intervention", "intervention_arm")
METRICS = ("score", "r", "r_pooled", "r2", "mae", "auc")


@dataclass
class ProbeConfig:
    covariates: tuple[str, ...] = DEFAULT_COVARIATES
    by_sex: bool = False
    seeds: int = 15
    targets: list[str] | None = None  # None: every phenotype column + the covariates
    binary: list[str] | None = None  # declared binary targets (else detected: values in {0, 1})
    outer: int = OUTER
    inner: int = INNER
    alphas: np.ndarray = field(default_factory=lambda: ALPHAS.copy())
    n_jobs: int = 1
    fdr: float = gainmod.FDR
    keep_predictions: tuple[str, ...] = ("age", "bmi")
    penalize_covariates: bool = False  # True: the paper-literal concatenation [gait, covariates] in one ridge


@dataclass
class ProbeData:
    """Aligned inputs: one row per session present in the phenotypes and every feature set."""

    session_ids: np.ndarray
    subjects: np.ndarray
    sex: np.ndarray  # "M" / "F" / ""
    X: dict[str, np.ndarray]
    columns: dict[str, list[str]]
    C: np.ndarray  # covariates [n, c]
    cov_names: list[str]
    Y: np.ndarray  # targets [n, T]
    targets: list[str]
    binary: np.ndarray
    is_covariate: np.ndarray
    blocks: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # feature set -> task -> columns


def cv_feature_set(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, blocks: dict[str, np.ndarray] | None = None,
                   label: str = "", **kw) -> CVResult:
    """``nested_cv`` of one feature set, or with task ``blocks`` the per-task ensemble: one nested CV per
    task block, out-of-fold predictions averaged over the tasks each row has data for (rows without any
    -- not produced by session_matrix -- get the plain mean). Folds depend only on (groups, seed), so all
    per-task models share them and the average is itself an out-of-fold prediction."""
    if not blocks:
        return nested_cv(X, Y, groups, label=label, **kw)
    t0 = time.perf_counter()
    raw, has, alphas, first = [], [], [], None
    for task, idx in blocks.items():
        r = nested_cv(X[:, idx], Y, groups, label=f"{label} {task}", **kw)
        first = first or r
        raw.append(r.oof.astype(np.float64))
        has.append(np.isfinite(X[:, idx]).any(axis=1))
        alphas.append(r.alpha)
    R = np.stack(raw)  # [tasks, seeds, n, T]
    H = np.stack(has)[:, None, :, None]  # [tasks, 1, n, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        oof = np.nanmean(np.where(H, R, np.nan), axis=0)
        oof = np.where(np.isnan(oof), np.nanmean(R, axis=0), oof)  # rows without any task's data
        alpha = np.nanmedian(np.stack(alphas), axis=0)
    return CVResult(first.seeds, oof.astype(np.float32), alpha, first.binary, time.perf_counter() - t0,
                    {"ensemble_tasks": list(blocks)})


def _sex_labels(phen: Table) -> np.ndarray:
    if "sex" in phen.meta:
        raw = [str(s).strip().upper()[:1] for s in phen.meta["sex"]]
        return np.asarray([{"M": "M", "F": "F", "1": "M", "0": "F"}.get(s, "") for s in raw], dtype=object)
    if "sex" in phen.columns:
        v = phen.col("sex")
        return np.asarray(["M" if x == 1 else ("F" if x == 0 else "") for x in v], dtype=object)
    return np.full(len(phen), "", dtype=object)


def prepare(feature_sets: dict[str, SessionMatrix], phen: Table, cfg: ProbeConfig) -> ProbeData:
    """Join the feature sets to the phenotype table on the session key (see tables.phenotype_keys)."""
    keys = phenotype_keys(phen)
    use_subject = False
    common = set(keys.tolist())
    for sm in feature_sets.values():
        common &= set(sm.session_ids.tolist())
    if not common and "subject" in phen.meta:  # phenotypes per subject, features per session
        use_subject = True
        keys = phen.meta["subject"]
        common = set(keys.tolist())
        for sm in feature_sets.values():
            common &= set(sm.subjects.tolist())
    if not common:
        raise ValueError("no session is in both the phenotype table and every feature set")
    order = sorted(common)
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    prow = np.array([first[k] for k in order])
    X, cols, blocks = {}, {}, {}
    for name, sm in feature_sets.items():
        ids = sm.subjects if use_subject else sm.session_ids
        pos = {}
        for i, k in enumerate(ids):
            pos.setdefault(k, i)
        X[name] = sm.X[[pos[k] for k in order]]
        cols[name] = list(sm.columns)
        if sm.blocks:
            blocks[name] = dict(sm.blocks)
    sex = _sex_labels(phen)[prow]
    subjects = phen.meta["subject"][prow] if "subject" in phen.meta else np.asarray(order, dtype=object)
    cov_names, C = [], []
    for c in cfg.covariates:
        if c == "sex":
            if cfg.by_sex:
                continue
            C.append((sex == "M").astype(float))
        elif c in phen.columns:
            C.append(phen.col(c)[prow])
        else:
            raise ValueError(f"covariate {c!r} not in the phenotype table")
        cov_names.append(c)
    C = np.column_stack(C) if C else np.zeros((len(order), 0))
    if cfg.targets:
        targets = list(cfg.targets)
    else:
        skip = set(META_COLUMNS) | set(cfg.covariates)
        targets = [c for c in phen.columns if c not in skip]
        targets += [c for c in cfg.covariates if c != "sex" and c in phen.columns]
        if "sex" in cfg.covariates and not cfg.by_sex and (sex != "").all():
            targets.append("sex")
    Ycols = []
    for t in targets:
        if t == "sex":
            Ycols.append(np.where(sex == "", np.nan, (sex == "M").astype(float)))
        elif t in phen.columns:
            Ycols.append(phen.col(t)[prow])
        else:
            raise ValueError(f"target {t!r} not in the phenotype table")
    Y = np.column_stack(Ycols)
    binary = detect_binary(Y)
    if cfg.binary:
        binary |= np.isin(targets, cfg.binary)
    is_cov = np.isin(targets, list(cfg.covariates))
    return ProbeData(np.asarray(order, dtype=object), subjects, sex, X, cols, C, cov_names, Y, targets, binary, is_cov,
                     blocks)


@dataclass
class ProbeResults:
    scores: dict = field(default_factory=dict)  # (feature_set, model, stratum) -> {metric: [S, T]}, "targets"
    alpha: dict = field(default_factory=dict)  # same key -> median chosen alpha [T]
    predictions: list = field(default_factory=list)  # rows for scatter plots
    gain: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    n: dict = field(default_factory=dict)  # stratum -> rows
    subjects: dict = field(default_factory=dict)  # stratum -> distinct subjects


def _scores(res: CVResult, Y: np.ndarray, groups: np.ndarray, cfg: ProbeConfig) -> dict[str, np.ndarray]:
    per = [score_panel(Y, res.oof[i], res.binary, make_folds(groups, s, cfg.outer, cfg.inner).outer)
           for i, s in enumerate(res.seeds)]
    return {m: np.stack([p[m] for p in per]) for m in METRICS}


def _boot_inputs(Y: np.ndarray, full: CVResult, cov: CVResult, groups: np.ndarray, binary: np.ndarray,
                 cfg: ProbeConfig) -> dict:
    """Bootstrap inputs: per seed, continuous targets' y and predictions centred per outer fold (see
    metrics.score_panel), then averaged over seeds; binary targets uncentred."""
    from .metrics import fold_centre

    ys, fs_, cs = [], [], []
    for i, s in enumerate(full.seeds):
        f = make_folds(groups, s, cfg.outer, cfg.inner).outer
        ys.append(np.where(binary, Y, fold_centre(Y, f)))
        fs_.append(np.where(binary, full.oof[i], fold_centre(full.oof[i], f)))
        cs.append(np.where(binary, cov.oof[i], fold_centre(cov.oof[i], f)))
    return {"y": np.mean(ys, axis=0), "full": np.mean(fs_, axis=0), "cov": np.mean(cs, axis=0), "groups": groups,
            "binary": binary}


def strata(data: ProbeData, by_sex: bool) -> dict[str, np.ndarray]:
    if not by_sex:
        return {"all": np.ones(len(data.session_ids), bool)}
    return {s: data.sex == s for s in ("F", "M") if (data.sex == s).sum() >= 20}


UNPENALIZED_ALPHAS = np.array([1e-6])  # ridge on standardised covariates with a vanishing penalty = OLS


def covariate_baseline_kw(kw: dict, cfg: ProbeConfig) -> dict:
    """CV settings of the covariates-only model: the same estimator as the covariate part of the
    gait+covariates model, so that the predictive gain measures what gait adds and nothing else.

    Unpenalized covariates (default): OLS for continuous targets (as the Frisch-Waugh-Lovell fit of the
    full model) and, for binary targets, logistic regression with the covariates' penalty 900x weaker
    (C x UNPEN_SCALE**2, equivalent to the full model's covariate columns x UNPEN_SCALE). Why: a ridge-
    penalized covariate baseline (alpha chosen on the inner folds, often 100-1000 for weak effects)
    against unpenalized covariates in the full model gave the full model an edge with no gait signal at
    all (``bench/probe_null_gain.py``, gait columns of pure noise, 500 people, targets with weak
    covariate effects, data seeds 0-3: one-sided Wilcoxon p < 0.05 for 8 of 32 targets against the
    penalized baseline, 4 of 32 against OLS). With ``penalize_covariates`` both models share the grid."""
    if cfg.penalize_covariates:
        return kw
    return {**kw, "alphas": UNPENALIZED_ALPHAS, "Cs": LOGISTIC_CS * UNPEN_SCALE ** 2}


def run_probe(data: ProbeData, cfg: ProbeConfig, progress: Callable[[str], None] | None = None) -> ProbeResults:
    """Run every model of every feature set in every stratum; fill scores, predictions and gain rows."""
    out = ProbeResults()
    phen_idx = np.flatnonzero(~data.is_covariate)
    kw = dict(seeds=cfg.seeds, alphas=cfg.alphas, outer=cfg.outer, inner=cfg.inner, n_jobs=cfg.n_jobs,
              progress=progress)
    for st, rows in strata(data, cfg.by_sex).items():
        groups = data.subjects[rows]
        out.n[st] = int(rows.sum())
        out.subjects[st] = int(len(np.unique(groups)))
        C = data.C[rows]
        C = C[:, C.std(axis=0) > 0] if len(C) else C
        Yp = data.Y[np.ix_(rows, phen_idx)]
        bp = data.binary[phen_idx]
        t0 = time.perf_counter()
        cov = None
        if C.shape[1] and len(phen_idx):
            cov = nested_cv(C, Yp, groups, binary=bp, label=f"[{st}] covariates", **covariate_baseline_kw(kw, cfg))
            out.scores[("covariates", "covariates", st)] = {**_scores(cov, Yp, groups, cfg), "targets": [data.targets[i] for i in phen_idx]}
            out.alpha[("covariates", "covariates", st)] = np.nanmedian(cov.alpha, axis=(0, 1))
        out.timings[f"covariates/{st}"] = time.perf_counter() - t0
        for fs, Xall in data.X.items():
            X = Xall[rows]
            Ya = data.Y[rows]
            t0 = time.perf_counter()
            bl = data.blocks.get(fs)
            g = cv_feature_set(X, Ya, groups, bl, binary=data.binary, label=f"[{st}] {fs}", **kw)
            sc = _scores(g, Ya, groups, cfg)
            out.scores[(fs, "gait", st)] = {**sc, "targets": list(data.targets)}
            out.alpha[(fs, "gait", st)] = np.nanmedian(g.alpha, axis=(0, 1))
            mean_pred = np.nanmean(g.oof, axis=0)
            for t in cfg.keep_predictions:
                if t in data.targets:
                    j = data.targets.index(t)
                    for i, r in enumerate(np.flatnonzero(rows)):
                        out.predictions.append({"feature_set": fs, "stratum": st, "target": t,
                                                "session_id": data.session_ids[r], "subject": data.subjects[r],
                                                "sex": data.sex[r], "true": float(data.Y[r, j]),
                                                "predicted": float(mean_pred[i, j])})
            out.timings[f"{fs}/gait/{st}"] = time.perf_counter() - t0
            if cov is None:
                continue
            t0 = time.perf_counter()
            if cfg.penalize_covariates:
                if bl:
                    raise ValueError("penalize_covariates is not implemented for the task ensemble")
                full = nested_cv(np.hstack([X, C]), Yp, groups, binary=bp, label=f"[{st}] {fs}+covariates", **kw)
            else:
                full = cv_feature_set(X, Yp, groups, bl, binary=bp, label=f"[{st}] {fs}+covariates", covariates=C, **kw)
            scf = _scores(full, Yp, groups, cfg)
            tnames = [data.targets[i] for i in phen_idx]
            out.scores[(fs, "gait+covariates", st)] = {**scf, "targets": tnames}
            out.alpha[(fs, "gait+covariates", st)] = np.nanmedian(full.alpha, axis=(0, 1))
            boot = _boot_inputs(Yp, full, cov, groups, bp, cfg)
            out.gain += gainmod.gain_rows(scf["score"], out.scores[("covariates", "covariates", st)]["score"], tnames,
                                          {"feature_set": fs, "stratum": st}, boot)
            out.timings[f"{fs}/gait+covariates/{st}"] = time.perf_counter() - t0
    gainmod.add_fdr(out.gain, fdr=cfg.fdr)
    return out


def score_rows(res: ProbeResults, data: ProbeData, system_of: dict[str, str]) -> list[dict]:
    """Long table: one row per feature set, model, stratum and target with mean and SD over seeds."""
    rows = []
    for (fs, model, st), sc in res.scores.items():
        alpha = res.alpha[(fs, model, st)]
        for j, t in enumerate(sc["targets"]):
            k = data.targets.index(t)
            r = {"feature_set": fs, "model": model, "stratum": st, "target": t, "system": system_of.get(t, "other"),
                 "binary": bool(data.binary[k]), "n": res.n[st]}
            for m in METRICS:
                v = sc[m][:, j]
                r[f"{m}_mean"] = float(np.nanmean(v)) if np.isfinite(v).any() else np.nan
                r[f"{m}_sd"] = float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else np.nan
            r["alpha_median"] = float(alpha[j])
            rows.append(r)
    return rows


def default_systems(targets: list[str], truth: dict | None = None) -> dict[str, str]:
    """Body system per target: from a synthetic ``truth.json`` when given, else the synthetic
    generator's catalogue for known names, covariates -> anthropometric, else "other"."""
    out = {}
    if truth:
        for t, v in truth.get("phenotypes", {}).items():
            out[t] = v.get("system", "other")
    else:
        try:
            from ..synth.phenotypes import PHENOTYPES

            out = {p.name: p.system for p in PHENOTYPES}
        except ImportError:  # pragma: no cover
            pass
    for c in ("age", "sex", "bmi", "vat", "height"):
        out.setdefault(c, "covariate")
    return {t: out.get(t, "other") for t in targets}
