"""Detection of predictive gain per gait-linked factor of the synthetic generator, from finished probes.

    python bench/probe_factors.py TRUTH.json GAIN.csv [GAIN.csv ...] [--criterion paper+bootstrap|paper]

Reads ``gain.csv`` of one or more ``gaitfm probe --truth`` runs (runs made before ``gaitfm probe`` wrote
``detection_by_factor.csv`` itself) and prints ONE JSON object: per feature set and factor (frailty,
sarcopenia, mood, sleep debt, cardiometabolic), how many phenotypes that load on the factor and carry gait
signal beyond covariates gain significantly in either stratum (``gaitcore.probe.gain.detection_by_factor``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from gaitcore.probe.gain import detection_by_factor

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("truth")
    ap.add_argument("gain", nargs="+")
    ap.add_argument("--criterion", choices=["paper+bootstrap", "paper"], default="paper+bootstrap")
    args = ap.parse_args(argv)
    truth = json.loads(Path(args.truth).read_text())
    crit = "significant_paper" if args.criterion == "paper" else "significant"
    rows = []
    for path in args.gain:
        for r in csv.DictReader(open(path, newline="")):
            rows.append({**r, crit: r.get(crit) == "True"})
    out: dict = {"criterion": args.criterion, "inputs": args.gain, "feature_sets": {}}
    for r in detection_by_factor(rows, truth, crit):
        out["feature_sets"].setdefault(r["feature_set"], {})[r["factor"]] = f"{r['detected']}/{r['n_phenotypes']}"
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
