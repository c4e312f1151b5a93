"""Resumable, chunked GaitMAE embedding of a session folder (for the probes on a shared 2-core machine).

    python bench/probe_embed.py SESSIONS_DIR --work DIR [--checkpoint CK] [--tasks a,b] [--chunk 25]
        [--worker 0 --workers 2] [--threads 1] [--min-frames N] [--limit N]
    python bench/probe_embed.py SESSIONS_DIR --work DIR --merge OUT.parquet

Same rows as ``gaitfm embed`` (it calls the same functions: ``session_windows``, ``embed_windows``,
``embedding_rows``, ``write_table``), but the sorted session files are cut into chunks of ``--chunk``
sessions, each written to ``DIR/chunk_NNNNN.parquet`` as soon as it is done, so that

* a run can be stopped at any time and everything finished so far is usable (and a restart skips the
  chunks already written);
* several workers (``--worker i --workers n``, chunk k goes to worker k mod n) share the chunks; the
  finished chunks are always (nearly) the first ones, i.e. the first subjects in file-name order -- a
  subset fixed by the time budget, never by results;
* progress (sessions, windows, seconds, estimated remaining time) goes to stderr, one line per chunk.

``--tasks`` keeps only the windows of the given tasks (default: all). ``--merge`` concatenates the
finished chunks into one Parquet table and prints a JSON summary (sessions, subjects, tasks).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def chunks(files: list[Path], size: int) -> list[list[Path]]:
    return [files[i:i + size] for i in range(0, len(files), size)]


def subset_windows(ws, tasks: set[str] | None):
    from gaitcore.model.data import WindowSet

    if not tasks:
        return ws
    idx = np.asarray([i for i, r in enumerate(ws.rows) if r[2] in tasks], dtype=np.int64)
    return WindowSet(ws.x[idx], ws.observed[idx], ws.scale_mm[idx], ws.n_valid[idx], [ws.rows[i] for i in idx],
                     ws.preprocessing)


def merge(work: Path, out: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(work.glob("chunk_*.parquet"))
    if not parts:
        raise SystemExit(f"no chunk_*.parquet in {work}")
    t = pa.concat_tables([pq.read_table(p) for p in parts])
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(t, out)
    level = np.asarray(t.column("level").to_pylist())
    task = np.asarray(t.column("task").to_pylist())[level == "task"]
    sess = np.asarray(t.column("session_id").to_pylist())[level == "task"]
    return {"output": str(out), "chunks": [p.name for p in parts], "rows": t.num_rows,
            "sessions": int(len(set(sess.tolist()))),
            "subjects": int(len(set(np.asarray(t.column("subject").to_pylist()).tolist()))),
            "task_rows": {k: int((task == k).sum()) for k in sorted(set(task.tolist()))},
            "model_version": sorted(set(t.column("model_version").to_pylist()))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sessions", help="folder of *.gait.npz session files")
    ap.add_argument("--work", required=True, help="folder for the chunk tables")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--tasks", default=None, help="comma-separated tasks to embed (default: all)")
    ap.add_argument("--chunk", type=int, default=25)
    ap.add_argument("--worker", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of this worker")
    ap.add_argument("--min-frames", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--limit", type=int, default=None, help="only the first N session files")
    ap.add_argument("--merge", default=None, metavar="OUT", help="merge finished chunks into OUT (.parquet) and exit")
    args = ap.parse_args(argv)
    work = Path(args.work)
    if args.merge:
        print(json.dumps(merge(work, Path(args.merge)), indent=1))
        return 0

    import torch

    from gaitcore.model.checkpoint import load_compatible_checkpoint
    from gaitcore.model.data import WindowSet, find_sessions, load_source, session_windows
    from gaitcore.model.embedding import (
        ID_COLUMNS,
        embed_windows,
        embedding_columns,
        embedding_rows,
        write_table,
    )

    torch.set_num_threads(max(1, args.threads))
    work.mkdir(parents=True, exist_ok=True)
    files = find_sessions([args.sessions])[: args.limit]
    tasks = set(args.tasks.split(",")) if args.tasks else None
    ckpt = load_compatible_checkpoint(args.checkpoint)
    model = ckpt.model()
    cols = list(ID_COLUMNS) + embedding_columns(ckpt.config.dim)
    mine = [(k, c) for k, c in enumerate(chunks(files, args.chunk)) if k % args.workers == args.worker]
    t0, done = time.perf_counter(), 0
    print(f"worker {args.worker}/{args.workers}: {len(mine)} chunks of {args.chunk} of {len(files)} sessions, "
          f"model {ckpt.version_tag}, tasks {sorted(tasks) if tasks else 'all'}, pid {os.getpid()}",
          file=sys.stderr, flush=True)
    for i, (k, chunk) in enumerate(mine, 1):
        out = work / f"chunk_{k:05d}.parquet"
        if out.exists():
            continue
        sets = [subset_windows(session_windows(load_source(f, None), min_last=args.min_frames), tasks) for f in chunk]
        ws = WindowSet.concat(sets)
        emb = embed_windows(model, ws, args.batch_size)
        tmp = out.with_suffix(".tmp.parquet")
        write_table(embedding_rows(ckpt, ws, emb), tmp, cols)
        tmp.rename(out)
        done += 1
        el = time.perf_counter() - t0
        print(f"worker {args.worker}: chunk {k} ({i}/{len(mine)}) {len(chunk)} sessions {len(ws)} windows; "
              f"{el:.0f} s, ~{el / done * (len(mine) - i):.0f} s left", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
