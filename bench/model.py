"""GaitMAE inference benchmark: prints one JSON object.

    OMP_NUM_THREADS=2 .venv/bin/python bench/model.py [--configs paper small] [--batch 8] [--repeats 2]
        [--path fast|reference]

What runs is what the product runs: ``GaitMAE.features`` / ``forward`` in eager mode under
``torch.inference_mode`` (the embedding path ``gaitcore.model.embedding`` and the TorchServe handler call the
same model the same way), which takes GaitMAE's CPU inference path (``--path reference`` forces the
autograd-free reference path for comparison; ``inference_path`` in the JSON says which ran).

For each config: ``params``, ``gflop_per_window`` (torch's FLOP counter on one 900-frame window,
with the CPU flash-attention kernel counted like the GPU SDPA kernels and the oneDNN fused linear ops
of the inference path counted like ``addmm``, 2 x M x K x N; the count is checked equal to the
reference path's), ``windows_per_s`` (batch 8,
``torch.inference_mode``, fp32, in-process, best of ``--repeats`` timed batches after one warm-up),
``achieved_gflops`` and ``efficiency`` = achieved / ``matmul_gflops``, where ``matmul_gflops`` is this
machine's fp32 2048x2048 matmul rate measured in the same run right before that config (so a shared,
busy machine is measured in the same conditions; ``matmul_gflops_after``, sampled right after the timed
batches, is reported only to show how steady the machine was). The shipped config is the shipped checkpoint's.
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
import gaitcore.model.gaitmae as gaitmae  # noqa: E402
from gaitcore.model.gaitmae import GaitMAE, get_config  # noqa: E402

WINDOW = 900


def _cpu_sdpa_flops(query, key, value, *args, out_val=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _rows(shape) -> int:
    n = 1
    for s in shape[:-1]:
        n *= s
    return n


def _onednn_linear_flops(*args, out_shape=None, **kwargs) -> int:
    """mkldnn._linear_pointwise: (X, W, B, attr, scalars, algorithm) or .binary (X, other, W, B, attr)."""
    x = args[0]
    w = args[1] if isinstance(args[3], str) else args[2]
    return 2 * _rows(x) * x[-1] * w[0]


CUSTOM = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}
if hasattr(torch.ops.mkldnn, "_linear_pointwise"):  # the counter keys ops by overload packet
    CUSTOM[torch.ops.mkldnn._linear_pointwise] = _onednn_linear_flops


def count_gflop(model: GaitMAE, fast: bool) -> float:
    old = gaitmae.FAST_INFERENCE
    gaitmae.FAST_INFERENCE = fast
    try:
        fc = FlopCounterMode(display=False, custom_mapping=CUSTOM)
        with fc:
            model(torch.randn(1, WINDOW, 26, 4))
        return fc.get_total_flops() / 1e9
    finally:
        gaitmae.FAST_INFERENCE = old


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
    gflop = count_gflop(model, gaitmae.FAST_INFERENCE)
    gflop_reference = count_gflop(model, False)
    if abs(gflop - gflop_reference) > 1e-6 * gflop_reference:
        raise SystemExit(f"{name}: FLOP count of the inference path {gflop:.3f} != reference path "
                         f"{gflop_reference:.3f} GFLOP: the counter misses an op")
    mm = matmul_gflops()
    x = torch.randn(batch, WINDOW, 26, 4)
    model(x)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        model(x)
        best = min(best, time.perf_counter() - t)
    wps = batch / best
    mm_after = matmul_gflops()  # a noisy (shared) machine shows as a gap between the two samples
    return {"params": model.num_params(), "gflop_per_window": round(gflop, 2), "windows_per_s": round(wps, 4),
            "seconds_per_batch": round(best, 3), "achieved_gflops": round(gflop * wps, 1),
            "matmul_gflops": round(mm, 1), "matmul_gflops_after": round(mm_after, 1), "efficiency": round(gflop * wps / mm, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["paper", "shipped"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--path", choices=("fast", "reference"), default="fast",
                    help="fast: the product's CPU inference path (default); reference: the autograd-free "
                         "reference path, for comparison")
    args = ap.parse_args()
    gaitmae.FAST_INFERENCE = args.path == "fast"
    fast_on = gaitmae.FAST_INFERENCE and torch.device("cpu").type == "cpu"
    out: dict = {"omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "torch_threads": torch.get_num_threads(),
                 "torch": torch.__version__, "batch": args.batch, "window_frames": WINDOW, "dtype": "float32",
                 "mode": "inference_mode, eager, in-process (no torch.compile)",
                 "inference_path": ("fast: oneDNN linear with fused bias/GELU/residual add, contiguous q/k/v, "
                                    "in-place rotary, SDPA flash kernel, batch encoded in groups of "
                                    f"{gaitmae.FAST_GROUP_TOKENS} tokens" if fast_on else "reference")
                 + (" (oneDNN linear unavailable: aten linear)" if fast_on and not gaitmae.ONEDNN_LINEAR else ""),
                 "load_avg_before": os.getloadavg()[0]}
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
