"""Learning curve: gait-only scores of several representations as the cohort grows.

    python bench/probe_learning_curve.py --phenotypes P.csv --set NAME=TABLE [--set NAME=TABLE ...] \
        [--sizes 250,500,1000] [--targets age,bmi] [--seeds 5] [--task-mode ensemble] [--jobs 2] [--out F.json]

For each size n the cohort is cut to its first n subjects by id (a subset fixed in advance, never by
results), and every representation is probed on exactly those subjects with the probe's own nested,
subject-grouped CV (``gaitcore.probe.analysis``: outer 5 / inner 4 folds, the paper's alpha grid),
sex-specific models. Prints ONE JSON object: per size, representation, sex and target the gait-only
Pearson r (within-fold, mean and SD over seeds). Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from gaitcore.probe.analysis import ProbeConfig, prepare, run_probe, score_rows
    from gaitcore.probe.tables import Table, read_table, session_matrix

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phenotypes", required=True)
    ap.add_argument("--set", action="append", required=True, metavar="NAME=TABLE")
    ap.add_argument("--sizes", default="250,500,1000")
    ap.add_argument("--targets", default="age,bmi")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--task-mode", choices=("concat", "mean", "ensemble"), default="ensemble")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    sets = {}
    for spec in args.set:
        name, _, path = spec.partition("=")
        if not name or not path:
            raise SystemExit(f"--set {spec!r}: expected NAME=TABLE")
        sets[name] = session_matrix(read_table(path), args.task_mode, None)
        print(f"{name}: {len(sets[name].session_ids)} sessions x {sets[name].X.shape[1]} columns", file=sys.stderr)
    phen = read_table(args.phenotypes, force_meta=("sex",))
    subjects = sorted(set(np.asarray(phen.meta["subject"]).tolist()))
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    out = {"phenotypes": args.phenotypes, "sets": dict(s.partition("=")[::2] for s in args.set),
           "task_mode": args.task_mode, "seeds": args.seeds, "targets": targets, "by_sex": True, "sizes": {}}
    for n in [int(x) for x in args.sizes.split(",")]:
        if n > len(subjects):
            raise SystemExit(f"size {n} > {len(subjects)} subjects in {args.phenotypes}")
        keep = set(subjects[:n])
        mask = np.array([s in keep for s in phen.meta["subject"]])
        sub = Table(phen.values[mask], phen.columns, {k: v[mask] for k, v in phen.meta.items()}, phen.source)
        res_n = {}
        for name, sm in sets.items():
            t0 = time.perf_counter()
            cfg = ProbeConfig(by_sex=True, seeds=args.seeds, targets=targets, n_jobs=max(1, args.jobs))
            data = prepare({name: sm}, sub, cfg)
            res = run_probe(data, cfg, None)
            for r in score_rows(res, data, {}):
                if r["model"] == "gait":
                    res_n.setdefault(name, {}).setdefault(r["stratum"], {})[r["target"]] = {
                        "r": round(r["r_mean"], 4), "r_sd": round(r["r_sd"], 4), "n": r["n"]}
            print(f"n={n} {name}: {json.dumps(res_n[name])} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
                  flush=True)
        out["sizes"][str(n)] = res_n
    text = json.dumps(out, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
