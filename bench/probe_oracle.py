"""The generator's true movement parameters of a synthetic cohort, as a table the probe reads.

    python bench/probe_oracle.py COHORT_DIR --out oracle.csv [--layout all|tasks]

COHORT_DIR is a ``gaitfm synth`` output (``manifest.json`` gives seed, subjects, visits, tasks). For every
session it writes the numbers its skeleton was generated from (``gaitcore.synth.oracle``): movement
parameters and body dimensions, before stride-to-stride, camera and sensor noise. Probed like any feature
table (``gaitfm probe --features oracle.csv ...``), it gives the ceiling a linear read-out of any skeleton
representation can approach on that cohort. Prints one JSON summary; progress on stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from gaitcore.synth.cohort import plan
    from gaitcore.synth.oracle import oracle_rows

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cohort", help="gaitfm synth output folder")
    ap.add_argument("--out", required=True, help="CSV to write")
    ap.add_argument("--layout", choices=("all", "tasks"), default="all")
    args = ap.parse_args(argv)
    m = json.loads((Path(args.cohort) / "manifest.json").read_text())
    if m.get("generator") != "gaitcore.synth":
        raise SystemExit(f"{args.cohort}: not a gaitfm synth cohort (manifest generator {m.get('generator')!r})")
    jobs = plan(m["seed"], m["subjects"], m["visits"], m["longitudinal_share"])
    t0 = time.perf_counter()
    rows = []
    for k, (i, v) in enumerate(jobs, 1):
        rows.extend(oracle_rows(m["seed"], i, v, args.layout, tuple(m["tasks"]), m["longitudinal_share"]))
        if k % 200 == 0 or k == len(jobs):
            print(f"[{k}/{len(jobs)}] sessions", file=sys.stderr, flush=True)
    cols = list(dict.fromkeys(c for r in rows for c in r))  # tasks layout: columns differ by task
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(json.dumps({"output": args.out, "layout": args.layout, "sessions": len(jobs), "rows": len(rows),
                      "columns": len(cols) - 3, "seed": m["seed"], "generator_version": m["generator_version"],
                      "seconds": round(time.perf_counter() - t0, 1)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
