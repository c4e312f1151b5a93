"""Body-part ablation (the paper's): which body parts carry the signal of each target.

At inference time the model input is altered -- one group of joints zeroed (``drop_<group>``), or every
joint except one group zeroed (``keep_<group>``); positions *and* confidence are zeroed, as in the
pretraining masks -- and the embeddings are recomputed with the unchanged model. The gait-only probe
is then re-run on every variant. Groups are the four embedding regions (legs, arms, torso, head;
``gaitcore.schemas.EMBEDDING_REGIONS``).

Importance of group g for a target (per target, across the four groups):
``minmax_g(r_full - r_drop_g) + minmax_g(r_keep_g)``, each term min-max scaled to 0..1 over the groups,
so importance lies in 0..2. Per system: the mean over its targets.

The embedding model is passed in as a callable (``embed_fn(x [W, T, 26, 4]) -> [W, D]``) so this module
never imports torch; :func:`recompute_embeddings` produces the variant tables and
:func:`ablation_from_tables` runs the probes on them (``gaitfm probe --ablation DIR``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..schemas import EMBEDDING_REGIONS, MODEL26, group_indices

GROUPS: dict[str, list[int]] = group_indices(EMBEDDING_REGIONS, MODEL26)
ABLATION_SEEDS = 5  # the ablation re-runs the probe 2 x 4 times: fewer seeds than the main probe


def variants(groups: Iterable[str] = tuple(GROUPS)) -> list[str]:
    """Variant names: ``full``, ``drop_<g>`` and ``keep_<g>`` for every group."""
    groups = list(groups)
    return ["full", *(f"drop_{g}" for g in groups), *(f"keep_{g}" for g in groups)]


def ablate_input(x: np.ndarray, variant: str, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Copy of model input ``x [..., 26, C]`` (and joint ``mask [..., 26]``) with the variant's joints zeroed."""
    if variant == "full":
        return x, mask
    mode, _, g = variant.partition("_")
    if g not in GROUPS or mode not in ("drop", "keep"):
        raise ValueError(f"unknown ablation variant {variant!r}")
    idx = np.asarray(GROUPS[g])
    zero = np.zeros(x.shape[-2], bool)
    zero[idx] = True
    if mode == "keep":
        zero = ~zero
    x = x.copy()
    x[..., zero, :] = 0.0
    if mask is not None:
        mask = mask.copy()
        mask[..., zero] = False
    return x, mask


def recompute_embeddings(windows: Iterable[tuple[dict, np.ndarray]], embed_fn: Callable[[np.ndarray], np.ndarray],
                         which: list[str] | None = None, batch: int = 8) -> dict[str, tuple[list[dict], np.ndarray]]:
    """Embeddings of every ablation variant.

    ``windows``: ``(meta, x)`` pairs, ``x [W, T, 26, 4]`` model windows of one session-task and ``meta``
    its identifiers (session_id, subject, task). ``embed_fn`` maps a batch ``[B, T, 26, 4]`` to ``[B, D]``.
    Returns ``variant -> (row metas with a window index, embeddings [rows, D])``.
    """
    which = which or variants()
    out: dict[str, tuple[list[dict], list[np.ndarray]]] = {v: ([], []) for v in which}
    for meta, x in windows:
        x = np.asarray(x, dtype=np.float32)
        for v in which:
            xv, _ = ablate_input(x, v)
            embs = [np.asarray(embed_fn(xv[i:i + batch])) for i in range(0, len(xv), batch)]
            e = np.concatenate(embs) if embs else np.zeros((0, 0))
            out[v][0].extend({**meta, "window": i} for i in range(len(e)))
            out[v][1].append(e)
    return {v: (m, np.concatenate(e) if e else np.zeros((0, 0))) for v, (m, e) in out.items()}


def write_variant_tables(out_dir: str | Path, result: dict[str, tuple[list[dict], np.ndarray]]) -> list[Path]:
    """Write ``<variant>.npz`` tables (values + session_id/subject/task/window) readable by tables.read_table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for v, (metas, E) in result.items():
        cols = {k: np.asarray([str(m.get(k, "")) for m in metas]) for k in ("session_id", "subject", "task", "window")}
        p = out_dir / f"{v}.npz"
        np.savez(p, values=E.astype(np.float32), **cols)
        paths.append(p)
    return paths


def importance(r_full: np.ndarray, r_drop: dict[str, np.ndarray], r_keep: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Importance per group ``[T]`` = minmax over groups of the drop in r + minmax of keep-only r."""
    groups = list(r_drop)
    drop = np.stack([np.asarray(r_full) - np.asarray(r_drop[g]) for g in groups])  # [G, T]
    keep = np.stack([np.asarray(r_keep[g]) for g in groups])

    def mm(a):
        lo, hi = np.nanmin(a, axis=0), np.nanmax(a, axis=0)
        rng = np.where(hi - lo > 1e-12, hi - lo, np.nan)
        return np.nan_to_num((a - lo) / rng, nan=0.0)

    imp = mm(drop) + mm(keep)
    return {g: imp[i] for i, g in enumerate(groups)}


def system_importance(rows: list[dict]) -> list[dict]:
    """Mean importance per (feature set, stratum, system, group) from per-target rows."""
    keys = sorted({(r["feature_set"], r["stratum"], r["system"], r["group"]) for r in rows})
    out = []
    for fs, st, sysname, g in keys:
        v = [r["importance"] for r in rows if (r["feature_set"], r["stratum"], r["system"], r["group"]) == (fs, st, sysname, g)]
        out.append({"feature_set": fs, "stratum": st, "system": sysname, "group": g,
                    "importance": float(np.mean(v)), "n_targets": len(v)})
    return out


def ablation_from_tables(folder: Path, full, data, cfg, systems: dict[str, str], task_mode: str = "concat",
                         tasks: list[str] | None = None, progress=None, seeds: int = ABLATION_SEEDS):
    """Run the gait-only probe on the variant tables in ``folder`` and compute importances.

    ``full`` is the full embedding SessionMatrix; ``data``/``cfg`` come from :mod:`.analysis`.
    Returns ``(per-target rows, per-system rows)``.
    """
    from .analysis import cv_feature_set, strata
    from .cv import make_folds
    from .metrics import score_panel
    from .tables import read_table, session_matrix

    folder = Path(folder)
    files = {}
    for p in sorted(folder.iterdir()):
        stem = p.name.split(".")[0]
        if stem.startswith(("drop_", "keep_")) or stem == "full":
            files[stem] = p
    groups = [g for g in GROUPS if f"drop_{g}" in files and f"keep_{g}" in files]
    if not groups:
        raise ValueError(f"{folder}: no drop_<group>/keep_<group> tables for groups {list(GROUPS)}")
    mats = {"full": data.X["embeddings"]}
    for v in [f"{m}_{g}" for g in groups for m in ("drop", "keep")]:
        sm = session_matrix(read_table(files[v]), task_mode, tasks)
        pos = {s: i for i, s in enumerate(sm.session_ids)}
        missing = [s for s in data.session_ids if s not in pos]
        if missing:
            raise ValueError(f"{files[v]}: {len(missing)} sessions of the probe missing (e.g. {missing[0]})")
        X = sm.X[[pos[s] for s in data.session_ids]]
        if X.shape[1] != mats["full"].shape[1]:  # align columns by name where the variant dropped some
            col = {c: i for i, c in enumerate(sm.columns)}
            X = np.column_stack([X[:, col[c]] if c in col else np.zeros(len(X)) for c in data.columns["embeddings"]])
        mats[v] = X
    rows = []
    for st, sel in strata(data, cfg.by_sex).items():
        Y = data.Y[sel]
        r = {}
        for v, X in mats.items():
            res = cv_feature_set(X[sel], Y, data.subjects[sel], data.blocks.get("embeddings"), seeds=seeds,
                                 binary=data.binary, alphas=cfg.alphas,
                                 outer=cfg.outer, inner=cfg.inner, n_jobs=cfg.n_jobs, progress=progress,
                                 label=f"[{st}] ablation {v}")
            g = data.subjects[sel]  # pooled within-fold r, as in the main probe (metrics.score_panel)
            r[v] = np.nanmean(np.stack([score_panel(Y, res.oof[i], res.binary, make_folds(g, s, cfg.outer, cfg.inner).outer)
                                        ["score"] for i, s in enumerate(res.seeds)]), 0)
        imp = importance(r["full"], {g: r[f"drop_{g}"] for g in groups}, {g: r[f"keep_{g}"] for g in groups})
        for j, t in enumerate(data.targets):
            for g in groups:
                rows.append({"feature_set": "embeddings", "stratum": st, "target": t, "system": systems.get(t, "other"),
                             "group": g, "score_full": r["full"][j], "score_drop": r[f"drop_{g}"][j],
                             "score_keep": r[f"keep_{g}"][j], "importance": float(imp[g][j])})
    return rows, system_importance(rows)
