"""``gaitfm evaluate``: masked-joint reconstruction error (mm) of a GaitMAE checkpoint on held-out data."""

from __future__ import annotations

import argparse

NAME = "evaluate"
HELP = "Masked-joint reconstruction error in mm (masked and all joints, per body group) of a checkpoint; prints JSON."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", metavar="DATA", help="session files / folders (or recordings with --format)")
    parser.add_argument("--checkpoint", default=None, help="GaitMAE checkpoint (default: the shipped one)")
    parser.add_argument("--format", default=None, help="importer format (e.g. kinect-v2) when DATA are recordings")
    parser.add_argument("--exclude-training-subjects", action="store_true",
                        help="skip sessions whose subject pseudonym is in the checkpoint's training subjects")
    parser.add_argument("--min-frames", type=int, default=None,
                        help="shortest last window kept (default 300 frames; use e.g. 45 for short walks)")
    parser.add_argument("--stride", type=int, default=1, help="use every K-th input (sorted by path)")
    parser.add_argument("--max-files", type=int, default=0, help="evaluate at most N inputs (0 = all)")
    parser.add_argument("--seed", type=int, default=0, help="mask seed")
    parser.add_argument("--batch-size", type=int, default=8)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import time

    from ..errors import GaitCoreError
    from ..model.checkpoint import load_compatible_checkpoint
    from ..model.data import WindowSet, input_files, load_source, session_windows
    from ..model.evaluate import reconstruction_error

    t0 = time.perf_counter()
    try:
        ckpt = load_compatible_checkpoint(args.checkpoint)
    except GaitCoreError as exc:
        print(f"gaitfm evaluate: {exc}", file=sys.stderr)
        return 2
    files = input_files(args.data, args.format)
    files = files[:: max(1, args.stride)]
    if args.max_files:
        files = files[: args.max_files]
    train_subjects = set(ckpt.meta.get("data", {}).get("train_subjects", [])) if args.exclude_training_subjects else set()
    sets, failed, excluded = [], 0, 0
    for f in files:
        try:
            s = load_source(f, args.format)
        except (GaitCoreError, ValueError, OSError) as exc:
            failed += 1
            print(f"gaitfm evaluate: skipped {f}: {exc}", file=sys.stderr)
            continue
        if s.subject in train_subjects:
            excluded += 1
            continue
        try:
            sets.append(session_windows(s, min_last=args.min_frames))
        except (GaitCoreError, ValueError) as exc:
            failed += 1
            print(f"gaitfm evaluate: skipped {f}: {exc}", file=sys.stderr)
    ws = WindowSet.concat(sets)
    if not len(ws):
        print("gaitfm evaluate: no model windows to evaluate", file=sys.stderr)
        return 1
    res = reconstruction_error(ckpt.model(), ws, seed=args.seed, batch_size=args.batch_size)
    res.update(checkpoint=ckpt.path, model_version=ckpt.version_tag, inputs=len(files), inputs_failed=failed,
               inputs_excluded_training_subjects=excluded, sessions=len(sets),
               subjects=len({r[1] for r in ws.rows}), wall_time_s=round(time.perf_counter() - t0, 1))
    print(json.dumps(res, indent=1))
    return 0
