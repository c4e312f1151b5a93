"""``gaitfm naive-features SESSION... -o naive.csv``: the probes' naive baseline table.

One row per session and task: session_id, subject, task, then 156 per-joint statistics of the
normalised skeleton (mean and SD of x, y, z of each MODEL26 joint; see gaitcore.probe.naive).
Folders are searched recursively for ``*.gait.npz``. Progress on stderr.
"""

from __future__ import annotations

import argparse

NAME = "naive-features"
HELP = "Naive baseline for probes: per-joint position statistics of the normalised skeleton (CSV)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sessions", nargs="+", metavar="SESSION", help="session files (*.gait.npz) or folders")
    parser.add_argument("-o", "--output", required=True, help="output CSV path")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    import csv
    import sys
    from pathlib import Path

    from ..errors import GaitCoreError
    from ..probe.naive import NAIVE_COLUMNS, session_naive_rows
    from ..sessionfile import read_session

    files = []
    for p in map(Path, args.sessions):
        files.extend(sorted(p.rglob("*.gait.npz")) if p.is_dir() else [p])
    if not files:
        print("gaitfm naive-features: no session files found", file=sys.stderr)
        return 2
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["session_id", "subject", "task", *NAIVE_COLUMNS])
        for i, f in enumerate(files, 1):
            try:
                s = read_session(f)
                rows = session_naive_rows(s)
            except (GaitCoreError, ValueError, KeyError) as exc:
                failed += 1
                print(f"[{i}/{len(files)}] {f}: FAILED: {exc}", file=sys.stderr)
                continue
            sid = s.session_id or f.name.removesuffix(".gait.npz")
            for task, v in rows:
                w.writerow([sid, s.subject, task, *("" if not (x == x) else f"{x:.6g}" for x in v)])
            if not args.quiet and (i % 50 == 0 or i == len(files)):
                print(f"[{i}/{len(files)}] {f.name}", file=sys.stderr)
    print(f"wrote naive baseline of {len(files) - failed} sessions to {out}", file=sys.stderr)
    return 1 if failed else 0
