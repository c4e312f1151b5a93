"""GaitMAE inference benchmark: prints one JSON object.

    OMP_NUM_THREADS=2 .venv/bin/python bench/model.py [--configs paper small] [--batch 8] [--repeats 2]

For each config: ``params``, ``gflop_per_window`` (torch's FLOP counter on one 900-frame window,
with the CPU flash-attention kernel counted like the GPU SDPA kernels), ``windows_per_s`` (batch 8,
``torch.inference_mode``, fp32, in-process, best of ``--repeats`` timed batches after one warm-up),
``achieved_gflops`` and ``efficiency`` = achieved / ``matmul_gflops``, where ``matmul_gflops`` is this
machine's fp32 2048x2048 matmul rate measured in the same run right before that config (so a shared,
busy machine is measured in the same conditions). The shipped config is the shipped checkpoint's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gaitcore.model.gaitmae import GaitMAE, get_config  # noqa: E402

WINDOW = 900


def _cpu_sdpa_flops(query, key, value, *args, out_val=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


CUSTOM = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


def matmul_gflops(n: int = 2048, seconds: float = 2.0) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


@torch.inference_mode()
def bench_config(name: str, batch: int, repeats: int, model: GaitMAE | None = None) -> dict:
    torch.manual_seed(0)
    model = (model or GaitMAE(get_config(name))).eval()
    fc = FlopCounterMode(display=False, custom_mapping=CUSTOM)
    with fc:
        model(torch.randn(1, WINDOW, 26, 4))
    gflop = fc.get_total_flops() / 1e9
    mm = matmul_gflops()
    x = torch.randn(batch, WINDOW, 26, 4)
    model(x)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        model(x)
        best = min(best, time.perf_counter() - t)
    wps = batch / best
    return {"params": model.num_params(), "gflop_per_window": round(gflop, 2), "windows_per_s": round(wps, 4),
            "seconds_per_batch": round(best, 3), "achieved_gflops": round(gflop * wps, 1),
            "matmul_gflops": round(mm, 1), "efficiency": round(gflop * wps / mm, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["paper", "shipped"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    out: dict = {"omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "torch_threads": torch.get_num_threads(),
                 "torch": torch.__version__, "batch": args.batch, "window_frames": WINDOW, "dtype": "float32",
                 "mode": "inference_mode, eager, in-process", "load_avg_before": os.getloadavg()[0]}
    configs = {}
    for name in args.configs:
        if name == "shipped":
            from gaitcore.model.checkpoint import SHIPPED_CHECKPOINT, load_checkpoint

            if not SHIPPED_CHECKPOINT.exists():
                continue
            ck = load_checkpoint()
            r = bench_config(ck.config.name, args.batch, args.repeats, ck.model())
            r["config"] = ck.config.name
            configs["shipped"] = r
        else:
            configs[name] = bench_config(name, args.batch, args.repeats)
    out["configs"] = configs
    if "paper" in configs:
        out.update({k: configs["paper"][k] for k in ("params", "gflop_per_window", "windows_per_s", "efficiency")})
    out["matmul_gflops"] = round(sum(c["matmul_gflops"] for c in configs.values()) / max(1, len(configs)), 1)
    out["load_avg_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
