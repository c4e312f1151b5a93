"""The production predictor artifact: fitted linear heads on top of one embedding model version.

What it records (``predictor.json``), shown by the API and dashboards next to every prediction:

* ``embedding_model_version`` -- the GaitMAE checkpoint the heads were fitted on (inputs from any other
  version are refused by :meth:`Predictor.check_model_version`);
* ``targets``, per-target CV metrics (nested grouped CV, mean +- SD over seeds), training subject and
  session counts;
* ``provenance`` -- ``{"cohort": "synthetic" | "real", "source": ..., "demonstration_only": bool}``; a
  predictor trained on a synthetic cohort is always ``demonstration_only``;
* the input contract: ``feature_set``, ``task_mode``, ``tasks`` and the input column names.

Heads: per target (and per sex for the sex-specific targets, by default age and BMI) median imputation
+ standardisation + ridge (continuous) or L2 logistic regression (binary), the penalty chosen by grouped
inner CV on the whole training cohort. Continuous predictions carry a split-conformal interval: the
half-width is the ``level`` quantile (with the (n+1)/n finite-sample correction) of the absolute
out-of-fold residuals of the nested CV -- residuals of models that never saw the subject.

Gait age: the age head's prediction. ``gait_age_gap`` = gait age - chronological age;
``gait_age_gap_corrected`` removes the regression to the mean: with ``a + b * age`` the least-squares
line of out-of-fold gait age on chronological age in the training cohort, corrected gap =
gait age - (a + b * age) (uncorrelated with age in the training cohort, 0 on average at every age).

Reference statistics (``reference`` in ``predictor.json``): per continuous target, the mean and SD of the
training cohort's observed values, overall (``all``), per sex (``F``, ``M``) and per sex and age band
(``F:40-59``; bands ``AGE_BANDS``). :meth:`Predictor.predict` attaches to each prediction the most specific
group of the subject with at least ``MIN_REFERENCE_N`` subjects, so a deviation (value - mean) / SD is
measured against the training cohort, not against whoever else an organisation has uploaded.

Storage: ``predictor.json`` (metadata, head descriptions, the SHA-256 of the arrays file) and
``predictor.npz`` (float64 arrays only). Loading uses ``np.load(allow_pickle=False)`` and checks the
hash; nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import PROBE_VERSION
from .cv import ALPHAS, LOGISTIC_CS, grouped_fold_ids, make_folds, nested_cv, select_ridge_alpha, standardise
from .metrics import score_panel

FORMAT = "gaitcore.predictor/1"
AGE_BANDS = {"20-39": (20, 40), "40-59": (40, 60), "60-79": (60, 80), "80+": (80, 200)}
MIN_REFERENCE_N = 10


def age_band(age: float | None) -> str:
    if age is None or not np.isfinite(age):
        return ""
    return next((b for b, (lo, hi) in AGE_BANDS.items() if lo <= age < hi), "")


def reference_statistics(Y: np.ndarray, targets: list[str], groups: np.ndarray, sex: np.ndarray,
                         age: np.ndarray | None, binary: np.ndarray) -> dict:
    """{target: {group: {"mean", "sd", "n"}}} over subjects (one value per subject: its first session),
    groups ``all``, ``F``/``M`` and ``F:40-59``-style sex and age bands with at least 2 subjects."""
    _, first = np.unique(groups, return_index=True)
    sx = np.asarray(sex, dtype=object)[first]
    bands = np.array([age_band(a) for a in (np.asarray(age, float)[first] if age is not None else [np.nan] * len(first))],
                     dtype=object)
    out: dict = {}
    for j, t in enumerate(targets):
        if binary[j]:
            continue
        y = Y[first, j]
        keys = {"all": np.ones(len(y), bool)}
        for s in ("F", "M"):
            keys[s] = sx == s
            for b in AGE_BANDS:
                keys[f"{s}:{b}"] = (sx == s) & (bands == b)
        stats = {}
        for k, rows in keys.items():
            v = y[rows & np.isfinite(y)]
            if len(v) >= 2 and np.std(v, ddof=1) > 0:
                stats[k] = {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)), "n": int(len(v))}
        if stats:
            out[t] = stats
    return out
SEX_SPECIFIC = ("age", "bmi")
JSON_NAME, NPZ_NAME = "predictor.json", "predictor.npz"


@dataclass
class Head:
    """One fitted head (arrays live in the NPZ under ``<key>/<name>``)."""

    target: str
    stratum: str  # "all", "M" or "F"
    kind: str  # "ridge" | "logistic"
    penalty_alpha: float
    n_train: int
    n_subjects: int
    cv: dict
    interval: dict | None = None
    age_bias: dict | None = None  # {"intercept": a, "slope": b} for the gait-age head
    arrays: dict = field(default_factory=dict, repr=False)  # impute, mean, scale, coef, intercept

    @property
    def key(self) -> str:
        return f"{self.target}@{self.stratum}"

    def raw(self, X: np.ndarray) -> np.ndarray:
        a = self.arrays
        X = np.where(np.isnan(X), a["impute"], X)
        z = (X - a["mean"]) / a["scale"]
        lin = z @ a["coef"] + float(a["intercept"][0])
        return 1.0 / (1.0 + np.exp(-lin)) if self.kind == "logistic" else lin


def _fit_head(X: np.ndarray, y: np.ndarray, groups: np.ndarray, binary: bool, seed: int = 0, inner: int = 4):
    """Penalty by grouped CV on all rows, then the final fit. Returns (arrays, alpha)."""
    med = np.nanmedian(X, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    Xi = np.where(np.isnan(X), med, X)
    mu, sd = Xi.mean(axis=0), Xi.std(axis=0)
    sd = np.where(sd > 1e-12, sd, np.inf)
    Z = (Xi - mu) / sd
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    folds = grouped_fold_ids(groups, inner, rng)
    if binary:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        warnings.filterwarnings("ignore", category=ConvergenceWarning)  # weak-penalty end of the C grid

        yb = (y > 0.5).astype(int)
        loss = np.zeros(len(LOGISTIC_CS))
        for j in range(inner):
            a, b = folds != j, folds == j
            Za, Zb = standardise(Xi[a], Xi[b])
            for i, C in enumerate(LOGISTIC_CS):
                p = np.clip(LogisticRegression(C=float(C), max_iter=300).fit(Za, yb[a]).predict_proba(Zb)[:, 1], 1e-9, 1 - 1e-9)
                loss[i] -= (yb[b] * np.log(p) + (1 - yb[b]) * np.log(1 - p)).sum()
        best = int(np.argmin(loss))
        m = LogisticRegression(C=float(LOGISTIC_CS[best]), max_iter=500).fit(Z, yb)
        coef, icpt, alpha = m.coef_[0], float(m.intercept_[0]), float(1.0 / LOGISTIC_CS[best])
    else:
        from .cv import ridge_coef

        best = int(select_ridge_alpha(X, y[:, None], folds, ALPHAS)[0])
        alpha = float(ALPHAS[best])
        coef, icpt = ridge_coef(Z, y, alpha)
    scale = np.where(np.isfinite(sd), sd, 1.0)
    coef = np.where(np.isfinite(sd), coef, 0.0)
    return {"impute": med, "mean": mu, "scale": scale, "coef": np.asarray(coef, float),
            "intercept": np.array([icpt], float)}, alpha


@dataclass
class Predictor:
    meta: dict
    heads: dict[str, Head]

    # ---- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(cls, X: np.ndarray, columns: list[str], Y: np.ndarray, targets: list[str], groups: np.ndarray,
            sex: np.ndarray | None, *, embedding_model_version: str, cohort: str, source: str,
            feature_set: str = "embeddings", task_mode: str = "concat", tasks: list[str] | None = None,
            binary: np.ndarray | None = None, sex_specific: tuple[str, ...] = SEX_SPECIFIC, seeds: int = 5,
            level: float = 0.9, n_jobs: int = 1, progress=None, age: np.ndarray | None = None) -> Predictor:
        """Fit every head; CV metrics and conformal intervals from nested grouped CV with ``seeds`` seeds."""
        if cohort not in ("synthetic", "real"):
            raise ValueError("cohort must be 'synthetic' or 'real'")
        from .cv import detect_binary

        X = np.asarray(X, float)
        Y = np.asarray(Y, float).reshape(len(X), -1)
        groups = np.asarray(groups)
        binary = detect_binary(Y) if binary is None else np.asarray(binary, bool)
        sex = np.asarray(sex if sex is not None else [""] * len(X), dtype=object)
        heads: dict[str, Head] = {}
        for j, t in enumerate(targets):
            strata = {"all": np.ones(len(X), bool)}
            if t in sex_specific and set(sex.tolist()) >= {"M", "F"}:
                strata = {s: sex == s for s in ("F", "M")}
            for st, rows in strata.items():
                rows = rows & np.isfinite(Y[:, j])
                if len(np.unique(groups[rows])) < 10:
                    continue
                Xs, ys, gs = X[rows], Y[rows, j], groups[rows]
                res = nested_cv(Xs, ys[:, None], gs, seeds=seeds, binary=binary[j:j + 1], n_jobs=n_jobs,
                                progress=progress, label=f"predictor {t}@{st}")
                sc = [score_panel(ys[:, None], res.oof[i], binary[j:j + 1], make_folds(gs, s).outer)
                      for i, s in enumerate(res.seeds)]
                cv = {m: {"mean": float(np.nanmean([s[m][0] for s in sc])),
                          "sd": float(np.nanstd([s[m][0] for s in sc], ddof=1)) if len(sc) > 1 else None}
                      for m in (("auc",) if binary[j] else ("r", "r_pooled", "r2", "mae"))}
                cv.update({"seeds": seeds, "outer": 5, "inner": 4, "grouped_by": "subject"})
                arrays, alpha = _fit_head(Xs, ys, gs, bool(binary[j]))
                head = Head(t, st, "logistic" if binary[j] else "ridge", alpha, int(rows.sum()),
                            int(len(np.unique(gs))), cv, arrays=arrays)
                if not binary[j]:
                    resid = np.abs(res.oof[:, :, 0] - ys[None, :]).ravel()
                    resid = resid[np.isfinite(resid)]
                    n = len(ys)
                    qlev = min(1.0, level * (n + 1) / n)
                    head.interval = {"method": "split-conformal on nested-CV out-of-fold absolute residuals",
                                     "level": level, "halfwidth": float(np.quantile(resid, qlev))}
                if t == "age" and not binary[j]:
                    pm = np.nanmean(res.oof[:, :, 0], axis=0)
                    b, a = np.polyfit(ys, pm, 1)
                    head.age_bias = {"intercept": float(a), "slope": float(b),
                                     "method": "OLS of out-of-fold gait age on chronological age"}
                heads[head.key] = head
        meta = {
            "format": FORMAT, "probe_version": PROBE_VERSION, "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedding_model_version": str(embedding_model_version), "feature_set": feature_set,
            "task_mode": task_mode, "tasks": list(tasks) if tasks else None, "columns": list(columns),
            "targets": list(dict.fromkeys(h.target for h in heads.values())),
            "n_training_subjects": int(len(np.unique(groups))), "n_training_sessions": int(len(X)),
            "provenance": {"cohort": cohort, "source": source, "demonstration_only": cohort == "synthetic"},
            "interval_level": level,
        }
        if age is None and "age" in targets:
            age = Y[:, targets.index("age")]
        meta["reference"] = reference_statistics(Y, targets, groups, sex, age, binary)
        return cls(meta, heads)

    # ---- persistence -------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"{k}/{name}": np.asarray(v, dtype=np.float64) for k, h in self.heads.items() for name, v in h.arrays.items()}
        npz = folder / NPZ_NAME
        np.savez(npz, **arrays)
        meta = dict(self.meta)
        meta["arrays_sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
        meta["heads"] = [{k: v for k, v in asdict(h).items() if k != "arrays"} | {"key": h.key} for h in self.heads.values()]
        (folder / JSON_NAME).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Predictor:
        folder = Path(folder)
        meta = json.loads((folder / JSON_NAME).read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder}: not a {FORMAT} artifact (format {meta.get('format')!r})")
        data = (folder / NPZ_NAME).read_bytes()
        if hashlib.sha256(data).hexdigest() != meta.get("arrays_sha256"):
            raise ValueError(f"{folder}: {NPZ_NAME} does not match the hash in {JSON_NAME}")
        heads = {}
        with np.load(folder / NPZ_NAME, allow_pickle=False) as z:
            for hd in meta.pop("heads"):
                key = hd.pop("key")
                h = Head(**hd)
                h.arrays = {n: z[f"{key}/{n}"] for n in ("impute", "mean", "scale", "coef", "intercept")}
                heads[key] = h
        return cls(meta, heads)

    # ---- prediction --------------------------------------------------------------------------------
    def check_model_version(self, version: str) -> None:
        if str(version) != self.meta["embedding_model_version"]:
            raise ValueError(f"embeddings from model {version!r}, predictor fitted on "
                             f"{self.meta['embedding_model_version']!r}")

    def session_matrix(self, table):
        """One row per session from an embedding :class:`~gaitcore.probe.tables.Table`, reduced exactly as
        the training table was (task mode, tasks); checks the table's model version when it has one."""
        from .tables import model_version, session_matrix

        v = model_version(table)
        if v is not None:
            self.check_model_version(v)
        return session_matrix(table, self.meta["task_mode"], self.meta.get("tasks"))

    def align(self, X: np.ndarray, columns: list[str]) -> np.ndarray:
        """Reorder ``X`` to the training columns (absent columns -> NaN -> training median).

        Raises when fewer than half of the training columns are present: the input is not the
        representation the heads were fitted on (another task set or model)."""
        pos = {c: i for i, c in enumerate(columns)}
        found = sum(c in pos for c in self.meta["columns"])
        if found < 0.5 * len(self.meta["columns"]):
            raise ValueError(f"only {found} of the predictor's {len(self.meta['columns'])} input columns are present "
                             f"(task mode {self.meta['task_mode']!r}, tasks {self.meta.get('tasks')})")
        out = np.full((len(X), len(self.meta["columns"])), np.nan)
        for j, c in enumerate(self.meta["columns"]):
            if c in pos:
                out[:, j] = X[:, pos[c]]
        return out

    def predict(self, X: np.ndarray, columns: list[str] | None = None, sex: np.ndarray | None = None,
                age: np.ndarray | None = None) -> list[dict]:
        """One dict per row: ``{target: {"value", "lower", "upper" | "probability", "head"}, ...}`` plus
        ``gait_age``, ``gait_age_gap`` and ``gait_age_gap_corrected`` when an age head and ``age`` exist.
        Sex-specific heads are used when ``sex`` ("M"/"F") is known, else the row gets no value for them
        unless an "all" head exists."""
        X = np.asarray(X, float)
        if columns is not None:
            X = self.align(X, columns)
        n = len(X)
        sex = np.asarray(sex if sex is not None else [""] * n, dtype=object)
        out = [dict() for _ in range(n)]
        for t in self.meta["targets"]:
            for i in range(n):
                h = self.heads.get(f"{t}@{sex[i]}") or self.heads.get(f"{t}@all")
                if h is None:
                    continue
                v = float(h.raw(X[i:i + 1])[0])
                if h.kind == "logistic":
                    out[i][t] = {"probability": v, "head": h.key}
                else:
                    hw = h.interval["halfwidth"] if h.interval else np.nan
                    out[i][t] = {"value": v, "lower": v - hw, "upper": v + hw, "head": h.key}
                    ref = self.reference(t, str(sex[i]), float(age[i]) if age is not None else None)
                    if ref:
                        out[i][t]["reference"] = ref
                if t == "age" and h.kind == "ridge":
                    out[i]["gait_age"] = v
                    if age is not None and np.isfinite(age[i]):
                        out[i]["gait_age_gap"] = v - float(age[i])
                        if h.age_bias:
                            exp = h.age_bias["intercept"] + h.age_bias["slope"] * float(age[i])
                            out[i]["gait_age_gap_corrected"] = v - exp
        return out

    def reference(self, target: str, sex: str, age: float | None) -> dict | None:
        """The training cohort's statistics of ``target`` for the most specific group of this subject with at
        least ``MIN_REFERENCE_N`` subjects: {"mean", "sd", "n", "group"}; None without reference statistics."""
        stats = (self.meta.get("reference") or {}).get(target) or {}
        band = age_band(age)
        for key in ([f"{sex}:{band}"] if sex and band else []) + ([sex] if sex else []) + ["all"]:
            st = stats.get(key)
            if st and st["n"] >= MIN_REFERENCE_N:
                return {**st, "group": key}
        return None

    def describe(self) -> dict:
        """What the API shows next to a prediction."""
        return {k: self.meta[k] for k in ("embedding_model_version", "targets", "n_training_subjects", "provenance",
                                          "created_utc", "format")} | {
            "cv": {h.key: h.cv for h in self.heads.values()}}


__all__ = ["Predictor", "Head", "FORMAT", "SEX_SPECIFIC", "make_folds"]
