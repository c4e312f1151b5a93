"""``gaitfm features SESSION... -o features.csv``: engineered gait features, one row per session and task.

Columns: session_id, subject, task, then every feature of the catalogue (gaitcore.features.FEATURES);
a feature that does not apply to the task or could not be computed is an empty cell. With
``--reasons FILE`` the reasons for missing features go to a second CSV (session_id, task, feature,
reason). Folders are searched recursively for ``*.gait.npz``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse

NAME = "features"
HELP = "Compute engineered gait features of session files into a CSV (one row per session and task)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sessions", nargs="+", metavar="SESSION", help="session files (*.gait.npz) or folders")
    parser.add_argument("-o", "--output", required=True, help="output CSV path")
    parser.add_argument("--task", default=None, help="only this task")
    parser.add_argument("--reasons", default=None, metavar="CSV", help="also write why features are missing")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def _expand(paths: list[str]) -> list:
    from pathlib import Path

    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.rglob("*.gait.npz")))
        else:
            out.append(p)
    return out


def run(args: argparse.Namespace) -> int:
    import csv
    import sys
    import time
    from pathlib import Path

    from ..errors import GaitCoreError
    from ..features import FEATURE_NAMES, compute_session_features, compute_task_features
    from ..sessionfile import read_session

    files = _expand(args.sessions)
    if not files:
        print("gaitfm features: no session files found", file=sys.stderr)
        return 2
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    n_rows = n_failed = 0
    t0 = time.perf_counter()
    reasons_fh = open(args.reasons, "w", newline="") if args.reasons else None  # noqa: SIM115
    try:
        rw = csv.writer(reasons_fh) if reasons_fh else None
        if rw:
            rw.writerow(["session_id", "task", "feature", "reason"])
        with open(out, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["session_id", "subject", "task", *FEATURE_NAMES])
            for i, f in enumerate(files, 1):
                try:
                    s = read_session(f)
                    if args.task:
                        sets = [compute_task_features(s, args.task)] if args.task in [x.task for x in s.tasks] else []
                    else:
                        sets = compute_session_features(s)
                except (GaitCoreError, ValueError, KeyError) as exc:
                    n_failed += 1
                    print(f"[{i}/{len(files)}] {f}: FAILED: {exc}", file=sys.stderr)
                    continue
                sid = s.session_id or Path(f).name.removesuffix(".gait.npz")
                for fs in sets:
                    w.writerow([sid, s.subject, fs.task,
                                *(repr(fs.values[n]) if n in fs.values else "" for n in FEATURE_NAMES)])
                    n_rows += 1
                    if rw:
                        for n, r in fs.missing.items():
                            rw.writerow([sid, fs.task, n, r])
                if not args.quiet and (len(files) <= 20 or i % 25 == 0 or i == len(files)):
                    rate = i / max(time.perf_counter() - t0, 1e-9)
                    print(f"[{i}/{len(files)}] {f.name}: {len(sets)} task(s)  ({rate:.1f} files/s)", file=sys.stderr)
    finally:
        if reasons_fh:
            reasons_fh.close()
    print(f"wrote {n_rows} rows for {len(files) - n_failed} sessions to {out}"
          + (f"; {n_failed} failed" if n_failed else ""), file=sys.stderr)
    return 1 if n_failed else 0
