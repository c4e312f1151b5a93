"""``gaitfm demo-predictor``: build (or reuse) the demonstration predictor of ``./run demo``.

    gaitfm demo-predictor [--out var/predictors/demo] [--subjects 160] [--seed 1009] [--duration-scale 0.17]
        [--tasks treadmill_3kmh] [--targets auto] [--seeds 3] [--checkpoint PATH] [--force] [-q]

What it does, deterministically (fixed seeds; same inputs -> same coefficients):

1. generates a synthetic training cohort in memory (``gaitcore.synth.build_session``, seed ``--seed``,
   one baseline session per subject with ``--tasks`` at ``--duration-scale``; the demo cohorts use other
   seeds, so the training subjects are not the demo's subjects);
2. embeds it in-process with the GaitMAE checkpoint (default: the shipped ``gaitmae-small.pt``), exactly as
   the pipeline does (same preprocessing and windows, per-task median over windows, mean over tasks);
3. fits the predictor artifact (``gaitcore.probe.predictor.Predictor``: ridge heads with nested grouped CV
   metrics, split-conformal intervals, gait age and its corrected gap; provenance ``synthetic``, so
   ``demonstration_only``) for age and BMI (per sex) and, by default, one phenotype per body system (the
   one the generator links most strongly to gait-related factors);
4. records the targets' units (``units`` in predictor.json, from the generator's catalogue; the pipeline's
   predict step stores them with each prediction) and adds a body-part attribution per body system (``attribution`` in predictor.json, read by the
   dashboards' predictor card): for every head, the in-sample Pearson r of its predictions on the training
   cohort with one embedding region (legs, arms, torso, head: the pooled columns of that region) replaced
   by its training mean, and with only that region kept; importance = min-max(r_full - r_drop) +
   min-max(r_keep) over the four regions (docs/science.md#body-part-ablation's formula, applied to the embedding regions of the
   fitted heads instead of re-embedding zeroed inputs), averaged over the system's heads, shares summing
   to 1.

Shipped: the artifact of the default parameters with the shipped checkpoint is in git next to that checkpoint
(``gaitcore/model/checkpoints/demo-predictor/``: ``predictor.json`` + float64 ``predictor.npz``, loaded with
``allow_pickle=False`` and checked against its SHA-256), so the first ``./run demo`` builds nothing: when
the requested key equals the shipped artifact's, its folder is printed at once. ``--ship`` (maintainers)
rebuilds it there after a change of the recipe, the generator or the checkpoint.

Otherwise the artifact goes to ``<out>/<key>/`` where ``key`` hashes (checkpoint version and file hash,
preprocessing version, generator version, predictor format, every parameter): a later call with the same
inputs prints the folder at once without recomputing. The folder (and only it) is printed on stdout;
progress goes to stderr. Nothing of it belongs in git: predictor coefficients are model weights.
"""

from __future__ import annotations

import argparse

NAME = "demo-predictor"
HELP = "Build (or reuse from the cache) the synthetic demonstration predictor used by ./run demo."

BUILD_VERSION = "3"  # bump when the recipe below changes (invalidates cached artifacts)
DEFAULT_TASKS = ("treadmill_3kmh",)
REGIONS = ("legs", "arms", "torso", "head")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="var/predictors/demo", help="cache folder (default var/predictors/demo)")
    parser.add_argument("--subjects", type=int, default=160, help="training subjects (default 160)")
    parser.add_argument("--seed", type=int, default=1009, help="seed of the synthetic training cohort (default 1009)")
    parser.add_argument("--duration-scale", type=float, default=0.17,
                        help="task duration scale of the training sessions (default 0.17: a 30-s treadmill task)")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help="comma-separated tasks the heads use")
    parser.add_argument("--targets", default="auto",
                        help="comma-separated targets, or 'auto' (age, bmi and one phenotype per body system)")
    parser.add_argument("--sex-specific", default="age,bmi",
                        help="targets with one head per sex (default age,bmi; '' for none, e.g. in tiny cohorts)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the nested CV behind the metrics (default 3)")
    parser.add_argument("--level", type=float, default=0.9, help="conformal interval level (default 0.9)")
    parser.add_argument("--checkpoint", default=None, help="GaitMAE checkpoint (default: the shipped one)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--force", action="store_true", help="rebuild even when the cache has this artifact")
    parser.add_argument("--ship", action="store_true",
                        help="write the artifact to the shipped folder next to the checkpoint (maintainers)")
    parser.add_argument("-q", "--quiet", action="store_true")


def auto_targets() -> list[str]:
    """age, bmi and, per body system, the continuous phenotype with the largest gait-linked loading."""
    from ..synth.phenotypes import truth

    best: dict[str, tuple[float, str]] = {}
    for name, p in truth()["phenotypes"].items():
        if name == "falls_last_year":  # binary (logistic heads are slower and give no interval)
            continue
        score = float(p.get("gait_factor_loading_norm") or 0.0)
        cur = best.get(p["system"])
        if cur is None or (score, name) > cur:
            best[p["system"]] = (score, name)
    return ["age", "bmi"] + [best[s][1] for s in sorted(best)]


def target_units(targets: list[str]) -> dict[str, str]:
    """Units of the targets, from the generator's phenotype catalogue (the predict step stores them)."""
    from ..synth.phenotypes import truth

    t = truth()
    units = {**{k: v for k, v in t["covariates"].items() if isinstance(v, str)},
             **{k: p["units"] for k, p in t["phenotypes"].items()}}
    return {k: units[k] for k in targets if k in units}


def shipped_folder():
    from pathlib import Path

    from ..model.checkpoint import SHIPPED_CHECKPOINT

    return Path(SHIPPED_CHECKPOINT).parent / "demo-predictor"


def shipped_key() -> str:
    """The build key of the shipped artifact ("" when there is none)."""
    import json

    try:
        meta = json.loads((shipped_folder() / "predictor.json").read_text())
    except (OSError, ValueError):
        return ""
    return str((meta.get("demo_build") or {}).get("key", ""))


def cache_key(params: dict) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def attribution(predictor, X, columns: list[str], Y, targets: list[str], sex) -> dict:
    """{system: {legs, arms, torso, head}} (shares) from region ablation of the fitted heads (see above)."""
    import numpy as np

    from ..probe.ablation import importance
    from ..synth.phenotypes import body_system

    region_of = np.array([c.split(":")[-1].split("_")[0] for c in columns])

    def r(a, b):
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
            return 0.0
        return float(np.corrcoef(a[ok], b[ok])[0, 1])

    per_system: dict[str, list[np.ndarray]] = {}
    for head in predictor.heads.values():
        j = targets.index(head.target)
        rows = np.isfinite(Y[:, j]) & ((sex == head.stratum) if head.stratum in ("M", "F") else True)
        Xh, y = X[rows], Y[rows, j]
        filled = np.where(np.isnan(Xh), head.arrays["impute"], Xh)
        full = r(head.raw(filled), y)
        drop, keep = {}, {}
        for g in REGIONS:
            inside = region_of == g
            xd = filled.copy()
            xd[:, inside] = head.arrays["mean"][inside]
            xk = filled.copy()
            xk[:, ~inside] = head.arrays["mean"][~inside]
            drop[g] = np.array([r(head.raw(xd), y)])
            keep[g] = np.array([r(head.raw(xk), y)])
        imp = importance(np.array([full]), drop, keep)
        per_system.setdefault(body_system(head.target), []).append(np.array([imp[g][0] for g in REGIONS]))
    out = {}
    for system, imps in per_system.items():
        m = np.mean(imps, axis=0)
        total = float(m.sum()) or 1.0
        out[system] = {g: round(float(v) / total, 4) for g, v in zip(REGIONS, m, strict=True)}
    return out


def run(args: argparse.Namespace) -> int:
    import hashlib
    import sys
    import time
    from pathlib import Path

    import numpy as np

    from ..errors import GaitCoreError
    from ..model.checkpoint import load_compatible_checkpoint
    from ..preprocess import PREPROCESSING_VERSION
    from ..probe.predictor import FORMAT
    from ..synth.cohort import GENERATOR_VERSION

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"[demo-predictor] {msg}", file=sys.stderr, flush=True)

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    targets = auto_targets() if args.targets == "auto" else [t.strip() for t in args.targets.split(",") if t.strip()]
    sex_specific = [t.strip() for t in args.sex_specific.split(",") if t.strip()]
    if args.subjects < 20:
        print("gaitfm demo-predictor: --subjects must be at least 20 (5-fold CV grouped by subject)", file=sys.stderr)
        return 2
    try:
        ckpt = load_compatible_checkpoint(args.checkpoint)
    except GaitCoreError as exc:
        print(f"gaitfm demo-predictor: {exc}", file=sys.stderr)
        return 2
    ckpt_path = Path(ckpt.path)
    ckpt_sha = hashlib.sha256(ckpt_path.read_bytes()).hexdigest() if ckpt_path.is_file() else ""
    params = {"build": BUILD_VERSION, "checkpoint_version": ckpt.version_tag, "checkpoint_sha256": ckpt_sha,
              "preprocessing": PREPROCESSING_VERSION, "generator_version": GENERATOR_VERSION, "format": FORMAT,
              "subjects": args.subjects, "seed": args.seed, "duration_scale": args.duration_scale, "tasks": tasks,
              "targets": targets, "sex_specific": sex_specific, "cv_seeds": args.seeds, "level": args.level}
    key = cache_key(params)
    folder = Path(args.out) / key
    if not args.force and not args.ship and shipped_key() == key:
        say(f"shipped: {shipped_folder()} (checkpoint {ckpt.version_tag}, generator {GENERATOR_VERSION})")
        print(shipped_folder().resolve())
        return 0
    if args.ship:
        folder = shipped_folder()
    if (folder / "predictor.json").is_file() and not args.force and not args.ship:
        say(f"cached: {folder} (checkpoint {ckpt.version_tag}, generator {GENERATOR_VERSION})")
        print(folder.resolve())
        return 0

    t0 = time.perf_counter()
    say(f"building the demonstration predictor for {ckpt.version_tag}: {args.subjects} synthetic subjects "
        f"(seed {args.seed}, tasks {', '.join(tasks)}, duration scale {args.duration_scale}), {len(targets)} targets")
    X, cols, rows, build = _embed_synthetic_cohort(args, ckpt, tasks, say)
    keep = np.isfinite(X).all(axis=1)
    if keep.sum() < 20:
        print(f"gaitfm demo-predictor: only {int(keep.sum())} subjects had a model window of {tasks}; "
              "raise --duration-scale", file=sys.stderr)
        return 1
    rows = [r for r, k in zip(rows, keep, strict=True) if k]
    pred, build["fit_s"] = _fit_heads(args, ckpt, X[keep], cols, rows, targets, sex_specific, tasks, say)
    pred.meta["demo_build"] = {"key": key, "params": params, "subjects": int(keep.sum()), **build,
                               "total_s": round(time.perf_counter() - t0, 1)}
    _save_replacing(pred, Path(args.out), key, folder)
    b = pred.meta["demo_build"]
    say(f"done in {b['total_s']} s (synthesis + preprocessing {b['synth_s']} s, embedding {b['embed_s']} s of "
        f"{b['windows']} windows, fitting {b['fit_s']} s): {folder}")
    if not args.quiet:
        import json

        summary = {h.key: {k: round(v["mean"], 3) for k, v in h.cv.items() if isinstance(v, dict) and v.get("mean") is not None}
                   for h in pred.heads.values()}
        print(json.dumps(summary), file=sys.stderr)
    print(folder.resolve())
    return 0


def _embed_synthetic_cohort(args: argparse.Namespace, ckpt, tasks: list[str], say):
    """Synthesise ``args.subjects`` subjects in chunks and embed their windows: (X [subjects, columns], the
    mean over tasks of each task's median window, NaN without a window; the columns; each subject's
    phenotypes; counts and timings)."""
    import time

    import numpy as np

    from ..model.data import WindowSet, session_windows
    from ..model.embedding import embed_windows, embedding_columns
    from ..synth.cohort import build_session

    model = ckpt.model()
    cols = embedding_columns(ckpt.config.dim)
    X = np.full((args.subjects, len(cols)), np.nan)
    rows, windows, frames = [], 0, 0
    t_synth = t_embed = 0.0
    chunk = 16
    for start in range(0, args.subjects, chunk):
        idx = range(start + 1, min(args.subjects, start + chunk) + 1)
        ts = time.perf_counter()
        sets = []
        for i in idx:
            session, extra = build_session(args.seed, i, 0, tasks=tasks, duration_scale=args.duration_scale)
            sets.append(session_windows(session))
            rows.append(extra["phenotypes"])
        ws = WindowSet.concat(sets)
        t_synth += time.perf_counter() - ts
        te = time.perf_counter()
        emb = embed_windows(model, ws, args.batch_size) if len(ws) else np.zeros((0, len(cols)), np.float32)
        t_embed += time.perf_counter() - te
        windows += len(ws)
        frames += int(ws.n_valid.sum()) if len(ws) else 0
        offset = 0
        for i, s in zip(idx, sets, strict=True):
            n = len(s)
            e, task_names = emb[offset:offset + n], [r[2] for r in s.rows]
            offset += n
            per_task = [np.median(e[[j for j, t in enumerate(task_names) if t == task]], axis=0)
                        for task in tasks if task in task_names]
            if per_task:
                X[i - 1] = np.mean(per_task, axis=0)
        done = min(args.subjects, start + chunk)
        rate = windows / t_embed if t_embed else 0.0
        eta = (args.subjects - done) * (t_synth + t_embed) / done
        say(f"embedded {done}/{args.subjects} subjects ({windows} windows, {rate:.2f} windows/s, ~{eta:.0f} s left)")
    build = {"windows": windows, "frames": frames, "synth_s": round(t_synth, 1), "embed_s": round(t_embed, 1)}
    return X, cols, rows, build


def _fit_heads(args: argparse.Namespace, ckpt, X, cols: list[str], rows: list[dict], targets: list[str],
               sex_specific: list[str], tasks: list[str], say):
    """The predictor's heads (nested grouped CV), with units and region attribution: (predictor, fit s)."""
    import time

    import numpy as np

    from ..probe.cv import stderr_progress
    from ..probe.predictor import Predictor
    from ..synth.cohort import GENERATOR_VERSION

    sex = np.array([r["sex"] for r in rows], dtype=object)
    groups = np.array([r["subject"] for r in rows])
    Y = np.array([[float(r[t]) for t in targets] for r in rows], float)
    tf = time.perf_counter()
    say(f"fitting {len(targets)} targets (nested grouped CV, {args.seeds} seeds)")
    source = (f"gaitcore.synth {GENERATOR_VERSION}, seed {args.seed}, {len(rows)} subjects, tasks "
              f"{', '.join(tasks)}, duration scale {args.duration_scale} (gaitfm demo-predictor)")
    pred = Predictor.fit(X, cols, Y, targets, groups, sex, embedding_model_version=ckpt.version_tag,
                         cohort="synthetic", source=source, feature_set="embeddings", task_mode="mean", tasks=tasks,
                         sex_specific=tuple(sex_specific), seeds=args.seeds, level=args.level, progress=None if args.quiet else stderr_progress)
    t_fit = time.perf_counter() - tf
    pred.meta["units"] = target_units(targets)
    pred.meta["attribution"] = attribution(pred, X, cols, Y, targets, sex)
    pred.meta["attribution_method"] = ("in-sample region ablation of the fitted heads on the training cohort: "
                                       "min-max(r drop) + min-max(r keep-only) over legs, arms, torso, head")
    return pred, round(t_fit, 1)


def _save_replacing(pred, out, key: str, folder) -> None:
    """Write the predictor to a temporary folder, then put it in place of ``folder``."""
    import os
    import shutil
    from pathlib import Path

    tmp = Path(folder).parent / f".tmp-{key}-{os.getpid()}"  # (next to the shipped folder with --ship)
    shutil.rmtree(tmp, ignore_errors=True)
    pred.save(tmp)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
