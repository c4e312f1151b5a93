"""``gaitfm synth``: write a synthetic cohort (session files, phenotypes.csv, truth.json)."""

from __future__ import annotations

import argparse

NAME = "synth"
HELP = "Generate a deterministic synthetic cohort of Azure-Kinect-like sessions with known phenotype truth."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..schemas import TASKS

    parser.add_argument("--subjects", type=int, required=True, help="number of subjects")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed -> byte-identical output)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=None,
                        help="tasks per session (default: the paper's five protocol tasks)")
    parser.add_argument("--duration-scale", type=float, default=1.0,
                        help="scale the task durations (0.2 = shortened protocol; overground passes scale too)")
    parser.add_argument("--visits", type=int, default=1,
                        help="visits per longitudinal subject (half the subjects get repeat visits when > 1)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (output does not depend on it)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier cohort in --out (its session files and tables only)")


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from ..synth.cohort import PROTOCOL_TASKS, generate_cohort

    if args.subjects < 1 or args.duration_scale <= 0 or args.visits < 1 or args.workers < 1:
        print("gaitfm synth: --subjects, --duration-scale, --visits and --workers must be positive", file=sys.stderr)
        return 2
    tasks = tuple(args.tasks) if args.tasks else PROTOCOL_TASKS
    from pathlib import Path

    out = Path(args.out)
    old = sorted((out / "sessions").glob("*.gait.npz")) if (out / "sessions").is_dir() else []
    if old or (out / "manifest.json").exists():
        if not args.overwrite:
            print(f"gaitfm synth: {out} already holds a cohort ({len(old)} session files); "
                  "pass --overwrite to replace it or choose another --out", file=sys.stderr)
            return 2
        for f in old:
            f.unlink()
        for name in ("phenotypes.csv", "latents.csv", "truth.json", "manifest.json"):
            (out / name).unlink(missing_ok=True)
    t0 = time.perf_counter()
    if args.no_progress:
        manifest = generate_cohort(args.out, args.subjects, args.seed, tasks, args.duration_scale, args.visits,
                                   args.workers)
    else:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console) as bar:
            tid = bar.add_task("synthesising sessions", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(tid, completed=done, total=total)

            manifest = generate_cohort(args.out, args.subjects, args.seed, tasks, args.duration_scale, args.visits,
                                       args.workers, progress=progress)
    dt = time.perf_counter() - t0
    print(f"wrote {manifest['sessions']} sessions ({manifest['frames']} frames) for {manifest['subjects']} subjects "
          f"to {args.out} in {dt:.1f} s", file=sys.stderr)
    return 0
