"""Session pipeline benchmark: prints one JSON object.

    .venv/bin/python bench/pipeline.py [--checkpoint C] [--predictor P] [--scale 1.0] [--windows 16]

* ``e2e_s_embedded``: one 5-task synthetic session (``--scale 1.0`` = the full protocol, about 6 min
  of recording), uploaded through the REST API on the embedded defaults (SQLite database and broker,
  a real worker process, local files, in-process inference): seconds from the upload's ``complete`` to
  predictions readable through the API (``tests/workers/embedded_e2e.py``, worker already running).
* ``e2e_s_torchserve``: the same with the worker's inference through TorchServe on loopback.
* ``windows_per_s_inprocess`` / ``windows_per_s_torchserve``: the same model on the same ``--windows``
  preprocessed 900-frame windows, batch 8: the in-process client (torch on the machine's 2 threads)
  and the TorchServe client (1 window per request, 16 concurrent requests; TorchServe batch 8, max
  delay 10 ms, 2 workers of 1 thread each: both use the 2 cores); best of ``--repeats`` after a warm-up.
  ``ratio`` = TorchServe / in-process.

Model: the shipped checkpoint unless ``--checkpoint``. Predictor: ``--predictor``, else a configured one
for that model version (``GAIT_PREDICTOR`` / gaitcore/probe/predictors), else one fitted here on random
embeddings (reported as ``predictor: "random (bench only)"``: it only makes the predict step run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform")]


def log(msg: str) -> None:
    print(f"[bench/pipeline] {msg}", file=sys.stderr, flush=True)


def run_e2e(var_dir: Path, checkpoint: Path, predictor: Path, scale: float, backend: str, url: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL"))}
    cmd = [sys.executable, str(REPO / "tests" / "workers" / "embedded_e2e.py"), "--var-dir", str(var_dir),
           "--checkpoint", str(checkpoint), "--predictor", str(predictor), "--scale", str(scale), "--backend", backend]
    if url:
        cmd += ["--torchserve-url", url]
    r = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"e2e ({backend}) failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench_windows(n: int, seed: int = 0):
    from gaitcore.preprocess import model_windows, preprocess
    from gaitcore.synth.cohort import build_session

    ws, ms, i = [], [], 0
    while len(ws) < n:
        session, _ = build_session(seed, i)
        x, m, wins = model_windows(preprocess(session))
        for k, w in enumerate(wins):
            if w.n_valid == x.shape[1] and len(ws) < n:
                ws.append(x[k])
                ms.append(m[k])
        i += 1
    return ws, ms


def throughput(client, ws, ms, repeats: int) -> float:
    client.embed(ws[:8], ms[:8])  # warm-up (model load, TorchServe workers)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        client.embed(ws, ms)
        best = min(best, time.perf_counter() - t0)
    return len(ws) / best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--predictor", default=None)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--windows", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip-e2e", action="store_true")
    args = p.parse_args()

    from gaitcore.model.checkpoint import SHIPPED_CHECKPOINT, load_checkpoint
    from serving.client import InProcessClient, TorchServeClient
    from tests.pipeline_support import TorchServeInstance, fit_predictor

    ckpt_path = Path(args.checkpoint or SHIPPED_CHECKPOINT).resolve()
    ckpt = load_checkpoint(ckpt_path)
    out: dict = {"model_version": ckpt.version_tag, "config": ckpt.config.name, "cpu_count": os.cpu_count(),
                 "load_avg_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        tmp = Path(tmp)
        predictor = Path(args.predictor) if args.predictor else None
        if predictor is None:
            from workers import config
            from workers.predictors import find_predictor  # noqa: F401 - only to reuse its search

            for folder in config.predictor_dirs():
                meta = json.loads((Path(folder) / "predictor.json").read_text())
                if meta.get("embedding_model_version") == ckpt.version_tag:
                    predictor = Path(folder)
                    break
        if predictor is None:
            predictor = fit_predictor(tmp / "predictor", ckpt.version_tag, dim=ckpt.config.dim)
            out["predictor"] = "random (bench only)"
        else:
            out["predictor"] = str(predictor)

        ts = TorchServeInstance(tmp / "torchserve", ckpt_path, workers=2, batch_size=8)
        log("starting TorchServe")
        ts.start()
        try:
            if not args.skip_e2e:
                log(f"e2e embedded (scale {args.scale})")
                e = run_e2e(tmp / "e2e-embedded", ckpt_path, predictor, args.scale, "inprocess")
                out["e2e_s_embedded"] = e["seconds"]
                out["e2e_embedded"] = e
                log("e2e via TorchServe")
                e = run_e2e(tmp / "e2e-torchserve", ckpt_path, predictor, args.scale, "torchserve", ts.url)
                out["e2e_s_torchserve"] = e["seconds"]
                out["e2e_torchserve"] = e
            log(f"throughput on {args.windows} windows")
            ws, ms = bench_windows(args.windows)
            import torch

            torch.set_num_threads(2)
            out["windows_per_s_inprocess"] = round(throughput(InProcessClient(str(ckpt_path), batch_size=8), ws, ms,
                                                              args.repeats), 3)
            out["windows_per_s_torchserve"] = round(throughput(TorchServeClient(ts.url, concurrency=16), ws, ms,
                                                               args.repeats), 3)
            out["ratio"] = round(out["windows_per_s_torchserve"] / out["windows_per_s_inprocess"], 3)
            out["throughput_setup"] = {"windows": args.windows, "frames_per_window": 900, "batch": 8,
                                       "inprocess_threads": 2, "torchserve_workers": 2, "torchserve_threads_per_worker": 1,
                                       "torchserve_max_batch_delay_ms": 10, "requests_in_flight": 16}
        finally:
            ts.stop()
    out["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
