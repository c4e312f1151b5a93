"""``gaitfm fit-predictor``: fit and export the production predictor artifact (JSON + NPZ, no pickles).

    gaitfm fit-predictor --embeddings emb.csv --phenotypes phenotypes.csv --model-version gaitmae-v1 \
        --cohort synthetic --source "gaitfm synth --subjects 1000 --seed 11" \
        [--targets age,bmi,vat,...] [--seeds 5] --out predictor/

See gaitcore.probe.predictor and docs/probes.md (artifact format).
"""

from __future__ import annotations

import argparse

NAME = "fit-predictor"
HELP = "Fit phenotype heads on one embedding model version and export the predictor artifact."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", required=True, help="embedding (or feature) table of the training cohort")
    parser.add_argument("--phenotypes", required=True, help="phenotype CSV of the training cohort")
    parser.add_argument("--model-version", default=None,
                        help="embedding model version (default: the table's model_version column)")
    parser.add_argument("--cohort", choices=("synthetic", "real"), required=True, help="training cohort provenance")
    parser.add_argument("--source", required=True, help="where the training cohort came from (free text)")
    parser.add_argument("--targets", default="age,bmi", help="comma-separated targets (default age,bmi)")
    parser.add_argument("--sex-specific", default="age,bmi", help="targets with one head per sex")
    parser.add_argument("--feature-set", default="embeddings", help="name of the input representation")
    parser.add_argument("--task-mode", choices=("concat", "mean"), default="concat")
    parser.add_argument("--tasks", default=None, help="comma-separated tasks (default: all in the table)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the nested CV behind the metrics (default 5)")
    parser.add_argument("--level", type=float, default=0.9, help="conformal interval level (default 0.9)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", required=True, help="output folder (predictor.json + predictor.npz)")
    parser.add_argument("-q", "--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from ..probe.analysis import ProbeConfig, prepare
    from ..probe.cv import stderr_progress
    from ..probe.predictor import Predictor
    from ..probe.tables import model_version, read_table, session_matrix

    split = lambda s: [x.strip() for x in s.split(",") if x.strip()] if s else []  # noqa: E731
    tasks = split(args.tasks) or None
    table = read_table(args.embeddings)
    version = model_version(table)
    if args.model_version and version and args.model_version != version:
        print(f"gaitfm fit-predictor: --model-version {args.model_version!r} but the table says {version!r}", file=sys.stderr)
        return 2
    version = args.model_version or version
    if not version:
        print("gaitfm fit-predictor: no model_version column in the table: pass --model-version", file=sys.stderr)
        return 2
    if tasks is None and "task" in table.meta:  # record the tasks the heads see, so prediction matches
        tasks = sorted(set(table.meta["task"].tolist()))
    sm = session_matrix(table, args.task_mode, tasks)
    phen = read_table(args.phenotypes, force_meta=("sex",))
    targets = split(args.targets)
    data = prepare({args.feature_set: sm}, phen, ProbeConfig(covariates=(), targets=targets))
    pred = Predictor.fit(data.X[args.feature_set], data.columns[args.feature_set], data.Y, data.targets,
                         data.subjects, data.sex, embedding_model_version=version, cohort=args.cohort,
                         source=args.source, feature_set=args.feature_set, task_mode=args.task_mode, tasks=tasks,
                         binary=data.binary, sex_specific=tuple(split(args.sex_specific)), seeds=args.seeds,
                         level=args.level, n_jobs=max(1, args.jobs), progress=None if args.quiet else stderr_progress)
    out = pred.save(args.out)
    if not args.quiet:
        print(json.dumps(pred.describe(), indent=1), file=sys.stderr)
        print(f"predictor written to {out}", file=sys.stderr)
    return 0
