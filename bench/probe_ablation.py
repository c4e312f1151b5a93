"""Body-part ablation with the GaitMAE model: embeddings recomputed with groups zeroed / kept, then probes.

    python bench/probe_ablation.py SESSIONS_DIR --phenotypes phenotypes.csv --work DIR \
        [--checkpoint CK] [--tasks treadmill_3kmh] [--limit N] [--truth truth.json] [--seeds 5] [--by-sex]

Prints ONE JSON object on stdout (progress on stderr). For every session (first ``--limit`` files) the
model windows of the chosen tasks are embedded 9 times -- full input, each of the four regions (legs,
arms, torso, head) zeroed, each kept alone (gaitcore.probe.ablation; positions and confidence zeroed,
the zeroed joints marked unobserved like missing sensor joints) -- with the GaitMAE checkpoint (the
shipped one by default). The variant tables go to ``DIR/ablation/``; then ``gaitfm probe --embeddings
DIR/ablation/full.npz --ablation DIR/ablation`` runs the probes and writes the importance tables and
heat map to ``DIR/report/``. This bench imports torch; gaitcore.probe itself never does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def make_embed_fn(ckpt_path: str | None):
    import torch

    from gaitcore.model.checkpoint import load_checkpoint
    from gaitcore.model.embedding import pool

    torch.set_num_threads(1)
    ckpt = load_checkpoint(ckpt_path)
    model = ckpt.model()

    @torch.inference_mode()
    def embed(x: np.ndarray) -> np.ndarray:
        out = []
        for w in x:  # one window at a time, trimmed to its frames with data (padding is all zeros)
            obs = w[..., 3] > 0  # [T, 26] joints with data (ablated joints have confidence 0)
            frames = np.flatnonzero(obs.any(axis=1))
            L = int(frames[-1]) + 1 if len(frames) else 1
            xt = torch.from_numpy(np.ascontiguousarray(w[None, :L]))
            ot = torch.from_numpy(obs[None, :L])
            tokens = model.features(xt * ot[..., None].to(xt.dtype))
            out.append(pool(tokens, ot.any(dim=-1)).float().numpy()[0])
        return np.stack(out)

    return embed, ckpt.version_tag


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sessions", help="folder of *.gait.npz session files")
    ap.add_argument("--phenotypes", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--tasks", default="treadmill_3kmh")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--truth", default=None)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--by-sex", action="store_true")
    args = ap.parse_args(argv)

    from gaitcore.model.data import session_windows
    from gaitcore.probe.ablation import recompute_embeddings, write_variant_tables
    from gaitcore.sessionfile import read_session

    t0 = time.perf_counter()
    tasks = [t for t in args.tasks.split(",") if t]
    files = sorted(Path(args.sessions).rglob("*.gait.npz"))[: args.limit]
    embed, version = make_embed_fn(args.checkpoint)

    def windows():
        for i, f in enumerate(files, 1):
            ws = session_windows(read_session(f))
            for task in tasks:
                idx = [k for k, r in enumerate(ws.rows) if r[2] == task]
                if idx:
                    x = ws.x[idx] * ws.observed[idx][..., None]
                    sid, subj = ws.rows[idx[0]][0], ws.rows[idx[0]][1]
                    yield {"session_id": sid, "subject": subj, "task": task}, x
            if i % 25 == 0 or i == len(files):
                print(f"[{i}/{len(files)}] embedded x9 ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    res = recompute_embeddings(windows(), embed)
    work = Path(args.work)
    write_variant_tables(work / "ablation", res)
    t_embed = time.perf_counter() - t0
    from gaitcore.cli import main as gaitfm

    cmd = ["probe", "--embeddings", str(work / "ablation" / "full.npz"), "--phenotypes", args.phenotypes,
           "--ablation", str(work / "ablation"), "--seeds", str(args.seeds), "--out", str(work / "report"), "-q"]
    if args.truth:
        cmd += ["--truth", args.truth]
    if args.by_sex:
        cmd.append("--by-sex")
    rc = gaitfm(cmd)
    import csv

    sysrows = list(csv.DictReader(open(work / "report" / "ablation_systems.csv")))
    top = {}
    for r in sysrows:
        key = f"{r['stratum']}/{r['system']}"
        if key not in top or float(r["importance"]) > top[key][1]:
            top[key] = (r["group"], float(r["importance"]))
    print(json.dumps({"sessions": len(files), "tasks": tasks, "model_version": version, "embed_seconds": round(t_embed, 1),
                      "probe_rc": rc, "wall_seconds": round(time.perf_counter() - t0, 1),
                      "top_group_per_system": {k: v[0] for k, v in sorted(top.items())},
                      "report": str(work / "report" / "report.html")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
