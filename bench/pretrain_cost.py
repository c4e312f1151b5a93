"""GaitMAE pretraining cost on this machine: prints one JSON object (progress on stderr).

    OMP_NUM_THREADS=2 .venv/bin/python bench/pretrain_cost.py [--configs paper small] [--batch 8] \
        [--micro-batch N] [--steps 3] [--epochs 32] [--people 3414] [--minutes 6]

For each config, times the product's own optimisation step (``gaitcore.model.train.train_step``: the
paper's masks from ``make_masks``, corruption, forward, MPJPE + velocity loss, backward, gradient clipping,
AdamW from ``make_optimizer``) on batches of ``--batch`` crops of the config's pretraining length
(``train_frames``: 900 for ``paper``, 120 for ``small``), fp32 eager, as ``gaitfm pretrain`` runs on a CPU;
``--micro-batch N`` accumulates the gradients over chunks of N crops (``gaitfm pretrain --micro-batch``),
which the paper config needs here: its batch of 8 crops at once does not fit in 24 GiB (``peak_rss_gib``
is the process's peak resident memory).
Inputs are random skeletons with every joint observed: the step's cost does not depend on the values.
One untimed warm-up step, then the median of ``--steps`` timed steps.

Reported per config: ``seconds_per_step``, ``crops_per_s``, ``frames_per_s`` and the wall time of the
paper's recipe on this machine: ``--epochs`` passes (the paper: 32) over a cohort of ``--people`` people
recorded for ``--minutes`` each at 30 fps (the paper: 3,414 people, a 6-minute protocol; docs/science.md#protocol),
``recipe_days`` = epochs x people x minutes x 60 x 30 / frames_per_s / 86,400.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gaitcore.model.gaitmae import GaitMAE, get_config  # noqa: E402
from gaitcore.model.masking import MaskingConfig, make_masks  # noqa: E402
from gaitcore.model.train import TrainConfig, make_optimizer, train_step  # noqa: E402

FPS = 30


def time_config(name: str, batch: int, steps: int, micro_batch: int = 0) -> dict:
    torch.manual_seed(0)
    cfg = get_config(name)
    tc = TrainConfig(config=name)
    model = GaitMAE(cfg)
    opt = make_optimizer(model, tc.lr, tc.weight_decay)
    masking = MaskingConfig(**tc.masking)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cfg.train_frames, cfg.n_joints, cfg.in_channels)
    x[..., 3] = 1.0  # confidence: every joint observed
    observed = torch.ones(batch, cfg.train_frames, cfg.n_joints, dtype=torch.bool)
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        masks = make_masks(observed, masking, gen)
        train_step(model, opt, x, masks, masking, generator=gen, grad_clip=tc.grad_clip,
                   micro_batch=micro_batch)
        dt = time.perf_counter() - t
        if i:  # step 0 is the warm-up
            times.append(dt)
        note = " (warm-up)" if not i else ""
        print(f"{name}: step {i}/{steps} {dt:.1f} s{note}", file=sys.stderr, flush=True)
    s = statistics.median(times)
    return {"params": model.num_params(), "train_frames": cfg.train_frames, "batch": batch,
            "micro_batch": micro_batch,
            "seconds_per_step": round(s, 3), "step_seconds": [round(v, 3) for v in times],
            "crops_per_s": round(batch / s, 4), "frames_per_s": round(batch * cfg.train_frames / s, 1),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["paper", "small"])
    ap.add_argument("--batch", type=int, default=8, help="crops per step (the paper: 8)")
    ap.add_argument("--micro-batch", type=int, default=0, help="crops per chunk (0: the whole batch at once)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    ap.add_argument("--epochs", type=float, default=32.0, help="passes over the cohort (the paper: 32)")
    ap.add_argument("--people", type=int, default=3414, help="cohort size (the paper: 3,414)")
    ap.add_argument("--minutes", type=float, default=6.0, help="recording per person (the paper's protocol: 6)")
    args = ap.parse_args()
    if args.micro_batch < 0 or min(args.batch, args.steps, args.people) < 1 or min(args.epochs, args.minutes) <= 0:
        ap.error("--micro-batch must be >= 0; --batch, --steps, --epochs, --people and --minutes must be positive")
    epoch_frames = args.people * args.minutes * 60 * FPS
    out: dict = {"omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "torch_threads": torch.get_num_threads(),
                 "torch": torch.__version__, "dtype": "float32",
                 "mode": "train_step, eager (as gaitfm pretrain on CPU)",
                 "load_avg_before": os.getloadavg()[0],
                 "recipe": {"epochs": args.epochs, "people": args.people, "minutes": args.minutes,
                            "frames_per_epoch": int(epoch_frames)}}
    configs = {}
    for name in args.configs:
        r = time_config(name, args.batch, args.steps, args.micro_batch)
        r["recipe_days"] = round(args.epochs * epoch_frames / r["frames_per_s"] / 86400, 1)
        configs[name] = r
    out["configs"] = configs
    out["load_avg_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
