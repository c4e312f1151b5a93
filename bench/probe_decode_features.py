"""Which gait quantities does a representation carry? Decode engineered features from embeddings.

    python bench/probe_decode_features.py --features F.csv --from NAME=TABLE [--from NAME=TABLE ...]
        [--tasks treadmill_3kmh,treadmill_self_selected] [--targets cadence_steps_min,...] [--seeds 3]

For each task, each engineered gait feature of that task's sessions (``gaitfm features``: cadence,
stance, walking speed, stride-time CV, ...) is the target and a representation of the *same* session
and task (GaitMAE embeddings from ``gaitfm embed`` / ``bench/probe_embed.py``, the naive per-joint
statistics from ``gaitfm naive-features``) the predictors: the probes' nested CV grouped by subject
(outer 5, inner 4, StandardScaler + ridge over the paper's alpha grid, ``gaitcore.probe.cv``), repeated
over ``--seeds``. Prints ONE JSON object: per task, representation and feature the out-of-fold Pearson r
(mean and SD over seeds) and n. A representation that encodes a quantity linearly decodes it with r
near 1; one that does not stays low. Progress on stderr.

Why: on the synthetic cohort the embeddings lost to engineered features for age and for phenotypes that
act on walking speed and timing (docs/experiments/2026-11-probe-acceptance.md); this measures directly whether the embeddings carry
those quantities.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

DEFAULT_TARGETS = ("cadence_steps_min", "stride_time_s", "stance_pct", "double_support_pct", "stride_time_cv_pct",
                   "walking_speed_m_s", "stride_length_m", "step_width_m", "arm_swing_left_mm", "trunk_sway_ml_mm",
                   "knee_rom_left_deg")


def _summary(r: np.ndarray) -> dict:
    """Mean and SD over seeds; ``null`` with a reason for a target that is constant in this task (e.g.
    walking speed on the fixed-speed treadmill)."""
    r = r[np.isfinite(r)]
    if not len(r):
        return {"mean": None, "sd": None, "note": "target constant in this task"}
    return {"mean": round(float(r.mean()), 3), "sd": round(float(r.std()), 3)}


def decode(features_path: str, sources: dict[str, str], tasks: list[str], targets: list[str], seeds: int,
           jobs: int = 1) -> dict:
    from gaitcore.probe.cv import nested_cv
    from gaitcore.probe.metrics import pearson_r
    from gaitcore.probe.tables import read_table, session_matrix

    feat = read_table(features_path)
    reps = {name: read_table(path) for name, path in sources.items()}
    out: dict = {"seeds": seeds, "tasks": {}}
    for task in tasks:
        fm = session_matrix(feat, "concat", tasks=[task])
        cols = [c for c in targets if c in fm.columns]
        if not cols:
            continue
        Yall = fm.X[:, [fm.columns.index(c) for c in cols]]
        out["tasks"][task] = {}
        for name, table in reps.items():
            rm = session_matrix(table, "concat", tasks=[task])
            common, fi, ri = np.intersect1d(fm.session_ids, rm.session_ids, return_indices=True)
            X, Y, groups = rm.X[ri], Yall[fi], fm.subjects[fi]
            t0 = time.perf_counter()
            res = nested_cv(X, Y, groups, seeds=seeds, binary=np.zeros(Y.shape[1], bool), n_jobs=jobs)
            r = np.array([pearson_r(Y, res.oof[s]) for s in range(len(res.seeds))])  # [seeds, targets]
            out["tasks"][task][name] = {
                "n": int(len(common)), "columns": int(X.shape[1]),
                "r": {c: _summary(r[:, j]) for j, c in enumerate(cols)}}
            print(f"[decode] {task} {name}: {len(common)} sessions, {X.shape[1]} columns, "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="engineered features table (gaitfm features)")
    ap.add_argument("--from", dest="sources", action="append", required=True, metavar="NAME=TABLE",
                    help="a representation to decode from (repeatable), e.g. embeddings=emb.parquet")
    ap.add_argument("--tasks", default="treadmill_3kmh,treadmill_self_selected")
    ap.add_argument("--targets", default=",".join(DEFAULT_TARGETS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    sources = {}
    for s in args.sources:
        name, sep, path = s.partition("=")
        if not sep or not name or not path:
            ap.error(f"--from takes NAME=TABLE, not {s!r}")
        sources[name] = path
    result = decode(args.features, sources, [t for t in args.tasks.split(",") if t],
                    [t for t in args.targets.split(",") if t], args.seeds, args.jobs)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
