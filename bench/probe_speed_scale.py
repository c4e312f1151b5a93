"""Does a representation without absolute body size lose walking speed once height is a covariate?

    python bench/probe_speed_scale.py ORACLE_TASKS.csv [--task treadmill_self_selected] [--decoded-r 0.941]
        [--rel-out REL.csv] [--seed 0]

ORACLE_TASKS.csv is ``bench/probe_oracle.py COHORT --layout tasks``: the generator's own numbers per
session and task. The paper's preprocessing scales every frame by its furthest joint's distance from the
pelvis, so an embedding sees speed and step length relative to body size. This prints ONE JSON object:

* ``r_linear``: Pearson r of absolute speed with its least-squares fit on [1, speed/height, height] --
  how much of absolute speed a linear model recovers from relative speed plus height (a covariate of
  every gain model);
* ``r_blurred``: the same with relative speed blurred by Gaussian noise to the accuracy ``--decoded-r``
  at which a representation decodes it (``bench/probe_decode_features.py --features REL.csv``);
* ``n``, ``sd_speed_per_height``, ``cv_height``.

``--rel-out`` writes session_id, subject, task, speed_per_height, step_per_height, height_m for every row
of the oracle table (the decoding targets used in docs/experiments/2026-11-probe-acceptance.md, amendment 4).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

import numpy as np


def relative_rows(rows: list[dict]) -> list[list]:
    out = []
    for r in rows:
        try:
            h = float(r["body_height_mm"]) / 1000.0
            out.append([r["session_id"], r["subject"], r["task"], float(r["speed"]) / h,
                        float(r["step_length"]) / h, h])
        except (KeyError, ValueError):
            out.append([r.get("session_id", ""), r.get("subject", ""), r.get("task", ""), "", "", ""])
    return out


def linear_r(speed: np.ndarray, rel: np.ndarray, height: np.ndarray) -> float:
    X = np.c_[np.ones_like(height), rel, height]
    coef, *_ = np.linalg.lstsq(X, speed, rcond=None)
    return float(np.corrcoef(X @ coef, speed)[0, 1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("oracle", help="bench/probe_oracle.py table, --layout tasks")
    ap.add_argument("--task", default="treadmill_self_selected")
    ap.add_argument("--decoded-r", type=float, default=0.941)
    ap.add_argument("--rel-out", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if not 0 < a.decoded_r <= 1:
        print("probe_speed_scale: --decoded-r must be in (0, 1]", file=sys.stderr)
        return 2
    with open(a.oracle, newline="") as fp:
        rows = list(csv.DictReader(fp))
    rel_rows = relative_rows(rows)
    if a.rel_out:
        with open(a.rel_out, "w", newline="") as fp:
            w = csv.writer(fp)
            w.writerow(["session_id", "subject", "task", "speed_per_height", "step_per_height", "height_m"])
            w.writerows(rel_rows)
    sel = [r for r in rel_rows if r[2] == a.task and r[3] != ""]
    if len(sel) < 10:
        print(f"probe_speed_scale: {len(sel)} usable rows of task {a.task!r}; need at least 10", file=sys.stderr)
        return 2
    rel = np.array([r[3] for r in sel])
    h = np.array([r[5] for r in sel])
    speed = rel * h
    noise_sd = rel.std() * np.sqrt(1.0 / a.decoded_r ** 2 - 1.0)
    blurred = rel + np.random.default_rng(a.seed).normal(0.0, noise_sd, len(rel))
    print(json.dumps({"task": a.task, "n": len(sel), "r_linear": round(linear_r(speed, rel, h), 4),
                      "decoded_r": a.decoded_r, "r_blurred": round(linear_r(speed, blurred, h), 4),
                      "sd_speed_per_height": round(float(rel.std()), 4),
                      "cv_height": round(float(h.std() / h.mean()), 4)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
