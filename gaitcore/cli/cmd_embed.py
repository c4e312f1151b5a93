"""``gaitfm embed``: GaitMAE embeddings of sessions, per window and per session and task."""

from __future__ import annotations

import argparse

NAME = "embed"
HELP = "Compute GaitMAE gait embeddings (per window, and the median per session and task) to Parquet or CSV."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sessions", nargs="+", metavar="SESSION", help="session files or folders of *.gait.npz "
                        "(or recordings with --format)")
    parser.add_argument("-o", "--output", required=True, help="output table: .parquet or .csv (by extension)")
    parser.add_argument("--checkpoint", default=None, help="GaitMAE checkpoint (default: the shipped one)")
    parser.add_argument("--format", default=None, help="importer format of the inputs when they are not session files")
    parser.add_argument("--min-frames", type=int, default=None,
                        help="keep a last partial window with at least this many frames (default 300)")
    parser.add_argument("--batch-size", type=int, default=8)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from ..errors import GaitCoreError
    from ..model.checkpoint import load_compatible_checkpoint
    from ..model.data import WindowSet, input_files, load_source, session_windows
    from ..model.embedding import ID_COLUMNS, embed_windows, embedding_columns, embedding_rows, write_table

    if Path(args.output).suffix.lower() not in (".parquet", ".csv"):
        print(f"gaitfm embed: output must end in .parquet or .csv: {args.output}", file=sys.stderr)
        return 2
    try:
        ckpt = load_compatible_checkpoint(args.checkpoint)
    except GaitCoreError as exc:
        print(f"gaitfm embed: {exc}", file=sys.stderr)
        return 2
    try:
        files = input_files(args.sessions, args.format)
    except FileNotFoundError as exc:
        print(f"gaitfm embed: {exc}", file=sys.stderr)
        return 2
    model = ckpt.model()
    sets, failed = [], 0
    for f in files:
        try:
            sets.append(session_windows(load_source(f, args.format), min_last=args.min_frames))
        except (GaitCoreError, ValueError, OSError) as exc:
            failed += 1
            print(f"gaitfm embed: skipped {f}: {exc}", file=sys.stderr)
    ws = WindowSet.concat(sets)
    if not len(ws):
        print("gaitfm embed: no model windows in the input", file=sys.stderr)
        return 1
    emb = embed_windows(model, ws, args.batch_size)
    rows = embedding_rows(ckpt, ws, emb)
    write_table(rows, args.output, list(ID_COLUMNS) + embedding_columns(ckpt.config.dim))
    print(f"wrote {len(rows)} rows ({len(ws)} windows of {len(sets)} sessions, {emb.shape[1]}-d) to {args.output}"
          + (f"; skipped {failed} inputs" if failed else ""), file=sys.stderr)
    return 0
