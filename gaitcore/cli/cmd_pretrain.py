"""``gaitfm pretrain``: self-supervised GaitMAE pretraining on session files (see gaitcore/model/train.py)."""

from __future__ import annotations

import argparse

NAME = "pretrain"
HELP = ("Pretrain GaitMAE (masked reconstruction) on session files; checkpoints to a local folder or S3 and, "
        "with --resume, continues from the latest one after a kill.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="small", help="model size: paper, small or tiny (default small)")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", nargs="+", metavar="DIR", help="folders (or files) of *.gait.npz sessions")
    data.add_argument("--data-store", metavar="URL",
                      help="a job's exported data snapshot (a folder or s3://bucket/prefix holding manifest.json and "
                           "files/): fetched into RUN_DIR/data, every file checked against its SHA-256, and trained "
                           "on (only those files); its init.pt, if any, is the warm start (unless --init)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder: checkpoints, metrics.jsonl, model.pt")
    parser.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per step over all processes (default 8)")
    parser.add_argument("--micro-batch", type=int, default=0, metavar="N",
                        help="run each process's share of the batch in chunks of N crops and accumulate the "
                             "gradients: the same update with the memory of N crops (default 0: all at once; "
                             "the paper config needs about 8 GiB per 900-frame crop on a CPU)")
    parser.add_argument("--lr", type=float, default=8e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of subjects held out (default 0.1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ckpt-every", type=int, default=100, help="checkpoint + validation every N steps")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop and save after this wall time (0 = none)")
    parser.add_argument("--compile", choices=("auto", "off"), default="auto", help="torch.compile (CUDA only)")
    parser.add_argument("--amp", choices=("auto", "off"), default="auto", help="mixed precision (CUDA only)")
    parser.add_argument("--init", default="", metavar="CHECKPOINT",
                        help="start from these weights (same config; fresh optimizer and schedule)")
    parser.add_argument("--time-span-prob", type=float, default=0.0,
                        help="share of crops that also get one whole-body time span masked (default 0: the "
                             "paper's recipe)")
    parser.add_argument("--time-span-frames", type=int, default=30,
                        help="length of that span in frames (default 30 = 1 s, about one stride)")
    parser.add_argument("--checkpoint-store", default="", metavar="URL",
                        help="where checkpoints and the `latest` pointer go: a folder or s3://bucket/prefix "
                             "(default: RUN_DIR); S3 endpoint/region from GAIT_S3_ENDPOINT_URL / GAIT_S3_REGION")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the store's latest checkpoint if there is one (without it, a store "
                             "that already holds a checkpoint is refused)")
    parser.add_argument("--keep-checkpoints", type=int, default=3, metavar="N",
                        help="checkpoint objects kept in the store (older ones deleted; 0 = all; default 3)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from ..model.checkpoint import CheckpointError
    from ..model.masking import MaskingConfig
    from ..model.snapshot import fetch_snapshot
    from ..model.store import StoreError
    from ..model.train import TrainConfig, pretrain

    try:  # a bad masking value and a bad run end the same way: one line on stderr, exit 2
        masking = MaskingConfig(time_span_prob=args.time_span_prob, time_span_frames=args.time_span_frames)
        data, init = (list(args.data) if args.data else None), args.init
        if args.data_store:
            fetched = fetch_snapshot(args.data_store, Path(args.out) / "data")
            data, init = [str(fetched["data"])], init or str(fetched["init"] or "")
        tc = TrainConfig(config=args.config, data=data, out=args.out, steps=args.steps,
                         batch_size=args.batch_size, micro_batch=args.micro_batch, lr=args.lr,
                         weight_decay=args.weight_decay,
                         warmup_steps=args.warmup_steps, grad_clip=args.grad_clip, val_fraction=args.val_fraction,
                         seed=args.seed, ckpt_every=args.ckpt_every, log_every=args.log_every,
                         max_minutes=args.max_minutes, compile=args.compile, amp=args.amp,
                         progress=not args.no_progress, init=init, masking=masking.to_dict(),
                         checkpoint_store=args.checkpoint_store, resume=args.resume,
                         keep_checkpoints=args.keep_checkpoints)
        summary = pretrain(tc)
    except (ValueError, KeyError, FileNotFoundError, StoreError, CheckpointError) as exc:
        print(f"gaitfm pretrain: {exc}", file=sys.stderr)
        return 2
    if summary:
        print(json.dumps(summary, indent=1))
    return 0
