"""Wall time of a full probe on planted data: N subjects x D-dim embeddings x T targets x S seeds.

    python bench/probe_timing.py [--subjects 1000] [--dim 1024] [--targets 100] [--binary 2] \
        [--seeds 15] [--jobs 2] [--by-sex]

Prints ONE JSON object on stdout (progress on stderr). The probe is the one ``gaitfm probe`` runs for one
feature set: covariates alone, gait alone and gait+covariates, nested grouped CV (5 x 4) x seeds,
gain tests. Data: 5 covariates, D embedding columns driven by age, BMI and 4 latent factors, T targets
(half with gait signal beyond covariates, ``--binary`` of them binary). Also reports how many planted
signals were found, as a sanity check.
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


def planted(n: int, d: int, T: int, n_binary: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 80, n)
    male = rng.random(n) < 0.5
    bmi = rng.normal(26, 4, n)
    height = rng.normal(1.7, 0.08, n)
    vat = np.exp(6.4 + 0.07 * (bmi - 26) + rng.normal(0, 0.3, n))
    lat = rng.normal(size=(n, 4))
    drivers = np.column_stack([(age - 50) / 12, (bmi - 26) / 4, male - 0.5, lat])
    X = drivers @ rng.normal(size=(drivers.shape[1], d)) * 0.3 + rng.normal(size=(n, d))
    C = np.column_stack([age, male.astype(float), bmi, vat, height])
    Y, truth = [], []
    for t in range(T):
        sig = t % 2 == 0
        lin = 0.3 * drivers[:, 0] + 0.2 * drivers[:, 1] + (0.4 * lat[:, t % 4] if sig else 0) + rng.normal(size=n)
        if t < n_binary:
            lin = (lin > np.median(lin)).astype(float)
        Y.append(lin)
        truth.append(sig)
    return np.array([f"P{i:05d}" for i in range(n)], dtype=object), np.where(male, "M", "F").astype(object), X, C, \
        np.column_stack(Y), np.array(truth)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--binary", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=15)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--by-sex", action="store_true")
    args = ap.parse_args(argv)

    from gaitcore.probe.analysis import ProbeConfig, ProbeData, run_probe
    from gaitcore.probe.cv import detect_binary, stderr_progress

    subj, sex, X, C, Y, truth = planted(args.subjects, args.dim, args.targets, args.binary)
    targets = [f"t{i:03d}" for i in range(Y.shape[1])]
    data = ProbeData(subj, subj, sex, {"embeddings": X}, {"embeddings": [f"e{i}" for i in range(X.shape[1])]},
                     C if not args.by_sex else C[:, [0, 2, 3, 4]],
                     ["age", "sex", "bmi", "vat", "height"] if not args.by_sex else ["age", "bmi", "vat", "height"],
                     Y, targets, detect_binary(Y), np.zeros(len(targets), bool))
    cfg = ProbeConfig(by_sex=args.by_sex, seeds=args.seeds, n_jobs=args.jobs, keep_predictions=())
    t0 = time.perf_counter()
    res = run_probe(data, cfg, stderr_progress)
    wall = time.perf_counter() - t0
    sig = {(r["target"], r["stratum"]): r["significant"] for r in res.gain}
    found = [any(v for (t, _), v in sig.items() if t == targets[i]) for i in range(len(targets))]
    out = {"subjects": args.subjects, "dim": args.dim, "targets": args.targets, "binary_targets": int(data.binary.sum()),
           "seeds": args.seeds, "jobs": args.jobs, "by_sex": args.by_sex, "outer": cfg.outer, "inner": cfg.inner,
           "alphas": len(cfg.alphas), "wall_seconds": round(wall, 1),
           "timings_s": {k: round(v, 1) for k, v in res.timings.items()},
           "planted_found": f"{sum(f for f, t in zip(found, truth, strict=False) if t)}/{int(truth.sum())}",
           "null_significant": f"{sum(f for f, t in zip(found, truth, strict=False) if not t)}/{int((~truth).sum())}"}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
