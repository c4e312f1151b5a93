"""``gaitfm probe``: nested grouped CV probes, predictive gain over covariates, report.

    gaitfm probe --embeddings emb.csv --phenotypes phenotypes.csv [--features features.csv]
                 [--naive naive.csv] [--covariates age,sex,bmi,vat,height] [--by-sex] [--seeds 15]
                 [--truth truth.json] [--ablation DIR] [--jobs 2] --out DIR

Feature tables are reduced to one row per session (median over windows per task, tasks side by side
unless ``--task-mode mean``; ``--task-mode ensemble`` fits one model per task and averages the
predictions); see docs/probes.md for the method and every output file.
"""

from __future__ import annotations

import argparse

NAME = "probe"
HELP = "Phenotype probes: nested grouped CV, predictive gain over covariates (Wilcoxon + BH), HTML report."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", help="gait embedding table (CSV/NPZ/Parquet; rows per window or per session-task)")
    parser.add_argument("--features", help="engineered features table (gaitfm features)")
    parser.add_argument("--naive", help="naive baseline table (gaitfm naive-features)")
    parser.add_argument("--phenotypes", required=True, help="phenotype CSV (subject[, visit | session_id], covariates, targets)")
    parser.add_argument("--covariates", default="age,sex,bmi,vat,height", help="comma-separated covariates")
    parser.add_argument("--targets", default=None, help="comma-separated targets (default: every phenotype column + covariates)")
    parser.add_argument("--binary", default=None, help="comma-separated targets to treat as binary (else detected: values in {0,1})")
    parser.add_argument("--by-sex", action="store_true", help="separate models per sex (sex dropped from covariates)")
    parser.add_argument("--penalize-covariates", action="store_true",
                        help="gait+covariates as one ridge over the concatenation (paper-literal); default: "
                             "covariates unpenalized")
    parser.add_argument("--seeds", type=int, default=15, help="CV repetitions (default 15)")
    parser.add_argument("--outer", type=int, default=5)
    parser.add_argument("--inner", type=int, default=4)
    parser.add_argument("--task-mode", choices=("concat", "mean", "ensemble"), default="concat",
                        help="how tasks of a session are combined: concat (columns side by side, default), mean "
                             "(columns averaged over tasks), ensemble (one model per task, predictions averaged: "
                             "the paper's method)")
    parser.add_argument("--tasks", default=None, help="comma-separated tasks to use (default: all)")
    parser.add_argument("--truth", default=None, help="synthetic truth.json: adds detection rates and body systems")
    parser.add_argument("--ablation", default=None, metavar="DIR",
                        help="folder of embedding tables drop_<group>.* / keep_<group>.* for body-part ablation")
    parser.add_argument("--alphas", default=None, metavar="LOG10_LO:LOG10_HI:N",
                        help="ridge penalty grid as numpy.logspace(LO, HI, N), written --alphas=LO:HI:N (default -1:3:9, the paper's 0.1..1000)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel jobs over seeds (max 2 on this machine)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def parse_alphas(spec: str):
    """``"LO:HI:N"`` -> ``numpy.logspace(LO, HI, N)``; a clear error for anything else."""
    import numpy as np

    try:
        lo, hi, n = spec.split(":")
        lo_f, hi_f, n_i = float(lo), float(hi), int(n)
    except ValueError:
        raise SystemExit(f"gaitfm probe: --alphas {spec!r}: expected LOG10_LO:LOG10_HI:N, e.g. -1:5:13") from None
    if n_i < 1 or hi_f < lo_f:
        raise SystemExit(f"gaitfm probe: --alphas {spec!r}: need N >= 1 and HI >= LO")
    return np.logspace(lo_f, hi_f, n_i)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import time
    from pathlib import Path

    from ..probe import PROBE_VERSION
    from ..probe.ablation import ablation_from_tables
    from ..probe.analysis import ProbeConfig, default_systems, prepare, run_probe, score_rows
    from ..probe.cv import stderr_progress
    from ..probe.gain import detection_by_factor, detection_rates, system_summary
    from ..probe.report import write_report
    from ..probe.tables import read_table, session_matrix

    split = lambda s: [x.strip() for x in s.split(",") if x.strip()] if s else None  # noqa: E731
    tasks = split(args.tasks)
    sets = {}
    for name in ("embeddings", "features", "naive"):
        p = getattr(args, name)
        if p:
            sets[name] = session_matrix(read_table(p), args.task_mode, tasks)
            if not args.quiet:
                sm = sets[name]
                print(f"{name}: {len(sm.session_ids)} sessions x {sm.X.shape[1]} columns from {p}", file=sys.stderr)
    if not sets:
        print("gaitfm probe: give at least one of --embeddings, --features, --naive", file=sys.stderr)
        return 2
    phen = read_table(args.phenotypes, force_meta=("sex",))
    cfg = ProbeConfig(covariates=tuple(split(args.covariates) or ()), by_sex=args.by_sex, seeds=args.seeds,
                      targets=split(args.targets), binary=split(args.binary), outer=args.outer, inner=args.inner,
                      n_jobs=max(1, args.jobs), penalize_covariates=args.penalize_covariates)
    if args.alphas:
        cfg.alphas = parse_alphas(args.alphas)
    t0 = time.perf_counter()
    data = prepare(sets, phen, cfg)
    truth = json.loads(Path(args.truth).read_text()) if args.truth else None
    systems = default_systems(data.targets, truth)
    progress = None if args.quiet else stderr_progress
    if not args.quiet:
        print(f"probe: {len(data.session_ids)} sessions, {len(set(data.subjects))} subjects, {len(data.targets)} "
              f"targets ({int(data.binary.sum())} binary), feature sets {list(sets)}, {cfg.seeds} seeds", file=sys.stderr)
    res = run_probe(data, cfg, progress)
    srows = score_rows(res, data, systems)
    for r in res.gain:
        r["system"] = systems.get(r["target"], "other")
        if truth and r["target"] in truth.get("phenotypes", {}):
            r["truth_gait_signal"] = bool(truth["phenotypes"][r["target"]]["gait_signal_beyond_covariates"])
    sysrows = system_summary(res.gain, systems)
    detection = detection_rates(res.gain, truth) if truth else None
    by_factor = detection_by_factor(res.gain, truth) if truth else None
    abl_rows = abl_sys = None
    if args.ablation and "embeddings" in sets:
        abl_rows, abl_sys = ablation_from_tables(Path(args.ablation), sets["embeddings"], data, cfg, systems,
                                                 args.task_mode, tasks, progress)
    elapsed = time.perf_counter() - t0
    summary = {
        "probe_version": PROBE_VERSION, "inputs": {k: getattr(args, k) for k in ("embeddings", "features", "naive", "phenotypes", "truth", "ablation")},
        "n_sessions": len(data.session_ids), "n_subjects": int(len(set(data.subjects))), "strata": res.n,
        "targets": len(data.targets), "binary_targets": [t for t, b in zip(data.targets, data.binary, strict=False) if b],
        "covariates": data.cov_names, "by_sex": cfg.by_sex, "covariates_penalized": cfg.penalize_covariates, "seeds": cfg.seeds, "outer": cfg.outer, "inner": cfg.inner,
        "alphas": [float(a) for a in cfg.alphas], "task_mode": args.task_mode,
        "columns": {k: len(v) for k, v in data.columns.items()},
        "seconds": round(elapsed, 1), "timings_s": {k: round(v, 1) for k, v in res.timings.items()},
        "provenance": {"synthetic": bool(truth) or "synthetic" in str(args.phenotypes).lower()},
        "detection": detection,
        "detection_by_factor": by_factor,
    }
    html = write_report(Path(args.out), srows, res.gain, sysrows, res.predictions, summary, detection, abl_rows, abl_sys,
                        by_factor)
    if not args.quiet:
        print(f"probe finished in {elapsed:.1f} s; report: {html}", file=sys.stderr)
        for d in detection or []:
            print(f"  {d['criterion']:<16} {d['feature_set']:<11} {d['stratum']:<4} gain significant: {d['detected_with_signal']}/{d['n_with_signal']} "
                  f"with gait signal, {d['detected_without_signal']}/{d['n_without_signal']} without", file=sys.stderr)
    return 0
