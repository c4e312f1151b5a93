"""Throughput of import + preprocessing + features, in one process.

    python bench/preprocess.py                                   # generates its own input
    python bench/preprocess.py FOLDER --format kinect-v2 [--limit N]

Prints ONE JSON object on stdout; progress goes to stderr.

``realtime_factor`` = seconds of 30 Hz 32-joint data processed per second of wall time, where the
wall time covers reading/importing every file (rejected ones included), preprocessing
(gaitcore.preprocess.preprocess) and computing the features of every task. Data seconds count the
imported sessions' frames at 30 Hz. ``peak_rss_mb`` is the process's peak resident memory.
``realtime_factor_cpu`` divides by this process's CPU time instead, and ``load_average_1min`` is
printed with it: on a busy 2-core machine the wall-clock figure drops while the CPU figure does not.

Without FOLDER, synthetic protocol sessions (treadmill 3 min, self-selected treadmill 1 min, walking in
place 1 min, sit-to-stand 30 s, Romberg 30 s, made by tests/gaitcore/walker.py) are written as session
files to a temporary folder, and "import" is reading them back (gaitcore.sessionfile.read_session).
With FOLDER, files are imported with gaitcore.importers.read_recording (``manifest.csv`` files are
skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from gaitcore.features import compute_features  # noqa: E402
from gaitcore.preprocess import PREPROCESSING_VERSION, preprocess  # noqa: E402
from gaitcore.schemas import FRAME_RATE_HZ  # noqa: E402


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def generate(folder: Path, n_sessions: int) -> list[Path]:
    """Write ``n_sessions`` synthetic 6-minute protocol sessions; returns their paths."""
    from gaitcore.sessionfile import Session, TaskSegment, write_session
    from tests.gaitcore.walker import sit_to_stand_body, stand_body, to_frame, walk_body

    paths = []
    for i in range(n_sessions):
        rng = np.random.default_rng(i)
        cad = float(rng.uniform(95, 120))
        parts = [
            ("treadmill_3kmh", walk_body(180, treadmill=True, cadence=cad, step_length_m=0.833 * 60 / cad, seed=i)),
            ("treadmill_self_selected", walk_body(60, treadmill=True, cadence=cad + 5, step_length_m=0.6, seed=i)),
            ("walk_in_place", walk_body(60, in_place=True, cadence=cad, seed=i)),
            ("sit_to_stand", sit_to_stand_body(30, reps=int(rng.integers(8, 14)), seed=i)),
            ("romberg_eyes_closed", stand_body(30, seed=i)),
        ]
        P = to_frame(np.concatenate([p for _, p in parts]), "camera_y_down", yaw_deg=float(rng.uniform(-20, 20)))
        segs, pos = [], 0
        for name, p in parts:
            segs.append(TaskSegment(name, pos, pos + p.shape[0]))
            pos += p.shape[0]
        T = P.shape[0]
        s = Session(P.astype(np.float32), np.full((T, 32), 2, np.uint8),
                    np.round(np.arange(T) * 1e6 / FRAME_RATE_HZ).astype(np.int64), f"bench{i:03d}", "synthetic",
                    segs, {}, f"bench-{i:03d}")
        paths.append(write_session(s, folder / f"bench{i:03d}"))
        _progress(f"generated {i + 1}/{n_sessions} sessions ({T} frames each)")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", help="folder of recordings (default: generate synthetic sessions)")
    ap.add_argument("--format", default="kinect-v2", help="importer format for FOLDER (default kinect-v2)")
    ap.add_argument("--limit", type=int, default=0, help="at most N files")
    ap.add_argument("--sessions", type=int, default=8, help="synthetic sessions to generate (no FOLDER)")
    args = ap.parse_args(argv)

    tmp = None if args.folder else tempfile.TemporaryDirectory(prefix="bench-preprocess-")
    files, load, source = _inputs(args, Path(tmp.name) if tmp is not None else None)
    if args.limit:
        files = files[: args.limit]
    t0 = time.perf_counter()
    c0 = time.process_time()
    counts = _process(files, load, t0)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    data_s = counts["frames"] / FRAME_RATE_HZ
    out = {
        "realtime_factor": round(data_s / wall, 1) if wall > 0 else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "data_seconds": round(data_s, 1),
        "frames": counts["frames"],
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "realtime_factor_cpu": round(data_s / cpu, 1) if cpu > 0 else None,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "import_seconds": round(counts["t_import"], 3),
        "preprocess_seconds": round(counts["t_pre"], 3),
        "features_seconds": round(counts["t_feat"], 3),
        "files": len(files),
        "imported": counts["ok"],
        "rejected": counts["failed"],
        "feature_sets": counts["sets"],
        "preprocessing_version": PREPROCESSING_VERSION,
        "source": source,
        "processes": 1,
    }
    print(json.dumps(out))
    if tmp is not None:
        tmp.cleanup()
    return 0


def _inputs(args: argparse.Namespace, tmp: Path | None):
    """(files, how to load one as a Session, the source described): FOLDER's recordings, or generated
    sessions written to ``tmp``."""
    if args.folder:
        from gaitcore.importers import iter_recordings, read_recording

        files = [p for p in iter_recordings([args.folder], args.format) if p.name != "manifest.csv"]

        def load(p):
            res = read_recording(p, args.format, task="overground_walk")
            return res.session

        return files, load, {"folder": str(args.folder), "format": args.format}
    from gaitcore.sessionfile import read_session

    return generate(tmp, args.sessions), read_session, {"generated_sessions": args.sessions, "protocol": "6 min: 5 tasks"}


def _process(files: list[Path], load, t0: float) -> dict:
    """Import, preprocess and compute the features of every file; the time each stage took and counts."""
    c = {"t_import": 0.0, "t_pre": 0.0, "t_feat": 0.0, "frames": 0, "ok": 0, "failed": 0, "sets": 0}
    for i, p in enumerate(files, 1):
        a = time.perf_counter()
        try:
            s = load(p)
        except Exception as exc:  # a rejected file still counts in the wall time
            c["failed"] += 1
            c["t_import"] += time.perf_counter() - a
            if c["failed"] <= 5:
                _progress(f"rejected {p}: {exc}")
            continue
        b = time.perf_counter()
        pre = preprocess(s)
        m = time.perf_counter()
        for seg in pre.tasks or []:
            compute_features(pre, seg.task, seg.start, seg.end)
            c["sets"] += 1
        d = time.perf_counter()
        c["t_import"] += b - a
        c["t_pre"] += m - b
        c["t_feat"] += d - m
        c["frames"] += s.n_frames
        c["ok"] += 1
        if i % max(len(files) // 10, 1) == 0 or i == len(files):
            el = time.perf_counter() - t0
            _progress(f"[{i}/{len(files)}] {c['frames'] / FRAME_RATE_HZ:.0f} s of data in {el:.2f} s "
                      f"(x{c['frames'] / FRAME_RATE_HZ / max(el, 1e-9):.0f})")
    return c


if __name__ == "__main__":
    sys.exit(main())
