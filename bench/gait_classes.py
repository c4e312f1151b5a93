"""Per gait class: mean walking speed, cadence and step length on kinect2_pathological.

    python bench/gait_classes.py /path/to/kinect2_pathological

Prints ONE JSON object on stdout (progress on stderr). Each file of the data set is a short view
(54-290 frames) of one of 6 Kinect v2 sensors along an 8 m walkway; files are imported with
gaitcore.importers.read_recording (format kinect-v2, task overground_walk), preprocessed, and the
features computed with gaitcore.features.compute_task_features.

Per class and feature the JSON gives the mean over the files where the feature could be computed,
its standard deviation, and ``n`` (files with a value) next to ``files`` (files imported), so it is
visible how many short clips had too few gait events. ``raw_pelvis_speed_m_s`` is a reference
computed without our preprocessing: net horizontal displacement of the raw pelvis (SpineBase) per
second, per file. ``pelvis_step_length_m`` = walking speed x step time per file: a cross-check of
the ankle-based ``step_length_m`` (Kinect v2 ankles at 2-4 m give shorter foot separations than the
pelvis progression implies). ``steps_per_clip`` shows how few gait events a short view holds.
Files the importer rejects are counted in ``rejected``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

FEATURES = ("walking_speed_m_s", "cadence_steps_min", "step_length_m")


def raw_pelvis_speed(session) -> float:
    """Net horizontal displacement of the raw pelvis / time (m/s); z is vertical in this data set."""
    p = session.positions[:, 0, :2].astype(np.float64)
    ok = (session.confidence[:, 0] > 0) & np.isfinite(p).all(axis=1) & (np.abs(p) < 1e5).all(axis=1)
    if ok.sum() < 2:
        return float("nan")
    i = np.flatnonzero(ok)
    dt = (session.timestamps_us[i[-1]] - session.timestamps_us[i[0]]) / 1e6
    return float(np.linalg.norm(p[i[-1]] - p[i[0]]) / 1000.0 / dt) if dt > 0 else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="path to kinect2_pathological (holds manifest.csv)")
    ap.add_argument("--limit", type=int, default=0, help="at most N files (0 = all)")
    args = ap.parse_args(argv)

    from gaitcore.features import compute_task_features
    from gaitcore.importers import read_recording

    root = Path(args.dataset)
    rows = list(csv.DictReader((root / "manifest.csv").open()))
    if args.limit:
        rows = rows[: args.limit]
    vals: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    examples: list[str] = []
    t0 = time.perf_counter()
    for i, r in enumerate(rows, 1):
        cls = r["gait_class"]
        counts[cls]["files"] += 1
        try:
            res = read_recording(root / r["file"], "kinect-v2", task="overground_walk")
        except Exception as exc:  # rejected by the importer: counted, reason summarised
            counts[cls]["rejected"] += 1
            reasons["rejected"][type(exc).__name__] += 1
            if len(examples) < 5:
                examples.append(f"{r['file']}: {exc}")
            continue
        counts[cls]["imported"] += 1
        fs = compute_task_features(res.session, "overground_walk")
        for f in FEATURES:
            if f in fs.values:
                vals[cls][f].append(fs.values[f])
            else:
                reasons[f][fs.missing.get(f, "?").split(" (")[0].split(":")[0]] += 1
        v = fs.values
        if "walking_speed_m_s" in v and "cadence_steps_min" in v:
            # step length implied by the pelvis: speed x step time (cross-check of the ankle-based one)
            vals[cls]["pelvis_step_length_m"].append(v["walking_speed_m_s"] * 60.0 / v["cadence_steps_min"])
        vals[cls]["steps_per_clip"].append(float(fs.details.get("steps", 0)))
        rp = raw_pelvis_speed(res.session)
        if np.isfinite(rp):
            vals[cls]["raw_pelvis_speed_m_s"].append(rp)
        if i % 100 == 0 or i == len(rows):
            print(f"[{i}/{len(rows)}] {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    def stat(xs: list[float]) -> dict:
        a = np.asarray(xs, dtype=float)
        if a.size == 0:
            return {"mean": None, "sd": None, "n": 0}
        return {"mean": round(float(a.mean()), 3), "sd": round(float(a.std(ddof=1)) if a.size > 1 else 0.0, 3),
                "n": int(a.size)}

    classes = {}
    for cls in sorted(counts):
        c = {k: int(v) for k, v in counts[cls].items()}
        c.setdefault("rejected", 0)
        for f in FEATURES + ("pelvis_step_length_m", "raw_pelvis_speed_m_s", "steps_per_clip"):
            c[f] = stat(vals[cls][f])
        classes[cls] = c
    speed = {k: v["walking_speed_m_s"]["mean"] for k, v in classes.items() if v["walking_speed_m_s"]["mean"]}
    fastest = max(speed, key=speed.get) if speed else None
    out = {
        "dataset": str(root),
        "files": len(rows),
        "classes": classes,
        "fastest_class": fastest,
        "normal_is_fastest": fastest == "normal",
        "missing_reasons": {k: dict(v) for k, v in reasons.items()},
        "rejected_examples": examples,
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
