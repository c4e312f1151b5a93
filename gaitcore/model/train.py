"""GaitMAE pretraining loop (single process or DDP under ``torchrun``).

* data: training crops streamed from session files (:func:`data.crop_stream`), subjects split into
  train / validation by a stable hash (validation subjects are never read by the training stream);
* optimisation: AdamW, linear warm-up then cosine decay (per step), gradient clipping;
* CUDA only: mixed precision (bf16 autocast, or fp16 + GradScaler) and ``torch.compile``; on CPU
  everything stays fp32 and eager (bf16 on CPU is far slower here);
* DDP: ``torchrun --nproc_per_node N -m gaitcore.cli pretrain ...`` (NCCL on GPU, gloo on CPU);
  every rank streams its own share of the sessions;
* checkpoints: every ``ckpt_every`` steps rank 0 writes one to the checkpoint store (a local folder or
  ``s3://bucket/prefix``, :mod:`.store`; default: RUN itself) under a unique name and then moves the
  store's ``latest`` pointer to it; with ``resume`` a restarted run continues from the checkpoint the
  pointer names (weights, optimizer, schedule step, RNG states, metrics history; masks are seeded by
  step, the data stream is re-seeded at the resume step); ``model.pt`` at the end (weights + metadata,
  no optimizer), locally in RUN and in the store;
* metrics: ``RUN/metrics.jsonl`` (one JSON object per line: train every ``log_every`` steps, val at
  every checkpoint; on resume rewritten from the checkpoint's history, so no step appears twice),
  ``RUN/summary.json`` at the end (both also copied to the store).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..preprocess import PREPROCESSING_VERSION
from ..sessionfile import read_session
from .checkpoint import (
    checkpoint_bytes,
    load_checkpoint,
    load_checkpoint_bytes,
    save_checkpoint,
    weights_digest,
)
from .data import WindowSet, crop_stream, data_fingerprint, find_sessions, session_windows, split_sessions
from .evaluate import reconstruction_error
from .gaitmae import MODEL_VERSION, GaitMAE, get_config
from .losses import loss_denominators, pretrain_loss
from .masking import MaskingConfig, Masks, corrupt, make_masks
from .store import CheckpointStore


@dataclass
class TrainConfig:
    config: str = "small"
    data: list[str] = field(default_factory=list)
    out: str = "runs/gaitmae"
    steps: int = 1000
    batch_size: int = 8  # per step, summed over ranks (the paper: 8)
    micro_batch: int = 0  # > 0: accumulate gradients over chunks of this many crops per rank (less memory)
    lr: float = 8e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    grad_clip: float = 1.0
    val_fraction: float = 0.1
    val_windows: int = 16
    seed: int = 0
    ckpt_every: int = 100
    log_every: int = 10
    crops_per_window: int = 1
    max_minutes: float = 0.0  # 0 = no time limit; otherwise stop (and save) when reached
    compile: str = "auto"  # auto = on CUDA only
    amp: str = "auto"  # auto = on CUDA only
    progress: bool = True
    masking: dict = field(default_factory=lambda: MaskingConfig().to_dict())
    init: str = ""  # start from these weights (a GaitMAE checkpoint of the same config); optimizer starts fresh
    checkpoint_store: str = ""  # local folder or s3://bucket/prefix ("" = the run folder ``out``)
    resume: bool = False  # continue from the store's latest checkpoint (none yet: start at step 0)
    keep_checkpoints: int = 3  # older checkpoint objects are deleted (0 = keep all)


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, masks: Masks,
               masking: MaskingConfig, *, generator: torch.Generator | None = None, grad_clip: float = 1.0,
               autocast: Any = None, scaler: Any = None, micro_batch: int = 0) -> dict[str, float]:
    """One optimisation step on x [B, T, J, 4] with the given masks. Returns the loss parts.

    ``micro_batch`` > 0 (and < B): forward and backward run on chunks of that many samples and the
    gradients accumulate before the one update -- the same step as the whole batch at once (each chunk's
    loss is its share of the whole batch's means, see ``losses``), with the activations of one chunk
    in memory. Under DDP only the last chunk's backward synchronises the gradients.
    """
    model.train()
    inp = corrupt(x, masks, masking, generator)  # the whole batch: the same jitter draws as unchunked
    B = x.shape[0]
    chunk = micro_batch if 0 < micro_batch < B else B
    denominators = loss_denominators(masks.loss_weight) if chunk < B else None
    starts = range(0, B, chunk)
    opt.zero_grad(set_to_none=True)
    total, parts = 0.0, {"mpjpe": 0.0, "velocity": 0.0}
    for i, s in enumerate(starts):
        sl = slice(s, s + chunk)
        last = i == len(starts) - 1
        with (model.no_sync() if not last and hasattr(model, "no_sync") else _null()):
            with autocast if autocast is not None else _null():
                pred = model(inp[sl])
            loss, p = pretrain_loss(pred.float(), x[sl, ..., :3], masks.loss_weight[sl], denominators)
            (scaler.scale(loss) if scaler is not None else loss).backward()
        total += float(loss.detach())
        for k in parts:
            parts[k] += p[k]
    if scaler is not None:
        scaler.unscale_(opt)
    gn = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip) if grad_clip > 0 else torch.tensor(0.0)
    if scaler is not None:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    return {"loss": total, **parts, "grad_norm": float(gn)}


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases, LayerNorms and the joint position embedding."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and "joint_pos" not in name else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.999))


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + rank * 7_919 + step) % (2**63))


def _dist_env() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _log(path: Path, rec: dict) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(rec, sort_keys=True) + "\n")


def rng_state() -> dict[str, Any]:
    """The global RNG states (torch CPU + CUDA, NumPy's legacy global, Python's): tensors, ints and
    strings only, so a checkpoint holding them still loads with ``weights_only=True``."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos),
                                                        int(has_gauss), float(gauss)],
             "python": [int(x) for x in random.getstate()[1]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _resume_point(store: CheckpointStore, world: int) -> dict | None:
    """Rank 0 reads the ``latest`` pointer and every rank gets the same one (a later write cannot make
    the ranks load different checkpoints)."""
    box = [store.latest() if int(os.environ.get("RANK", 0)) == 0 else None]
    if world > 1:
        dist.broadcast_object_list(box, src=0)
    return box[0]


def _val_set(files: list[Path], n: int, length: int) -> WindowSet:
    """Fixed validation crops: the first ``length`` frames of up to n windows, spread over the sessions."""
    sets = []
    for f in files:
        ws = session_windows(read_session(f))
        keep = [i for i in range(len(ws)) if ws.n_valid[i] >= min(length, 900)][:2]
        if keep:
            sets.append(WindowSet(ws.x[keep, :length], ws.observed[keep, :length], ws.scale_mm[keep, :length],
                                  np.minimum(ws.n_valid[keep], length), [ws.rows[i] for i in keep]))
        if sum(len(s) for s in sets) >= n:
            break
    v = WindowSet.concat(sets)
    return WindowSet(v.x[:n], v.observed[:n], v.scale_mm[:n], v.n_valid[:n], v.rows[:n])


def pretrain(tc: TrainConfig) -> dict:
    """Run (or resume) pretraining; returns the summary (also written to RUN/summary.json on rank 0)."""
    rank, world, local_rank = _dist_env()
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
        if cuda:
            torch.cuda.set_device(device)
        else:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    if tc.batch_size % world:
        raise ValueError(f"batch size {tc.batch_size} must be divisible by the {world} processes")
    per_rank = tc.batch_size // world
    if tc.micro_batch < 0:
        raise ValueError(f"micro-batch {tc.micro_batch} must be >= 0 (0: the whole batch at once)")
    out = Path(tc.out)
    is_main = rank == 0
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    cfg = get_config(tc.config)
    masking = MaskingConfig(**tc.masking)
    val_masking = replace(masking, time_span_prob=0.0)

    files = find_sessions(tc.data)
    if not files:
        raise ValueError(f"no session files (*.gait.npz) under {tc.data}")
    split = split_sessions(files, tc.val_fraction, tc.seed)
    if not split.train:
        raise ValueError("every subject fell into the validation split; lower --val-fraction")
    if is_main:
        (out / "split.json").write_text(json.dumps(split.summary(), indent=1))

    torch.manual_seed(tc.seed)
    model = GaitMAE(cfg).to(device)
    opt = make_optimizer(model, tc.lr, tc.weight_decay)
    step, windows_seen, elapsed_before = 0, 0, 0.0
    init_meta = None
    if tc.init:
        ick = load_checkpoint(tc.init)
        if ick.config != cfg:
            raise ValueError(f"--init {tc.init} holds config {ick.config.name!r}, not {cfg.name!r}")
        model.load_state_dict(ick.state_dict)
        init_meta = {"path": str(tc.init), "run_id": ick.meta.get("run_id"), "data": ick.meta.get("data"),
                     "wall_time_s": ick.meta.get("wall_time_s")}
    store = CheckpointStore.open(tc.checkpoint_store or out, keep=tc.keep_checkpoints)
    metrics_path = out / "metrics.jsonl"
    history: list[dict] = []  # every metrics record so far (rank 0); travels in each checkpoint
    ptr = _resume_point(store, world)
    if ptr is not None and not tc.resume:
        raise ValueError(f"the checkpoint store {store.url} already holds a checkpoint (step {ptr.get('step')}): "
                         "pass --resume to continue that run, or use another --checkpoint-store / --out")
    if ptr is not None:
        where = f"{store.url}/{ptr['key']}"
        ck = load_checkpoint_bytes(store.read(ptr["key"]), where, map_location=str(device))
        if ck.config != cfg:
            raise ValueError(f"{where} holds config {ck.config.name!r}, not {cfg.name!r}; use another store")
        model.load_state_dict(ck.state_dict)
        ts = ck.train_state or {}
        if "optimizer" in ts:
            opt.load_state_dict(ts["optimizer"])
        step = int(ts.get("step", 0))
        windows_seen = int(ts.get("windows_seen", 0))
        elapsed_before = float(ts.get("elapsed_s", 0.0))
        if "rng" in ts:
            set_rng_state(ts["rng"])
        history = json.loads(ts.get("metrics", "[]"))
        if is_main:  # what was logged after this checkpoint is dropped: those steps run again
            metrics_path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in history))
            print(f"resuming from {where} at step {step}", file=sys.stderr)
    elif is_main:
        metrics_path.unlink(missing_ok=True)  # a fresh run: no records of an earlier one

    autocast, scaler, train_model = None, None, model
    use_amp = cuda and tc.amp != "off"
    if use_amp:
        bf16 = torch.cuda.is_bf16_supported()
        autocast = torch.autocast("cuda", dtype=torch.bfloat16 if bf16 else torch.float16)
        scaler = None if bf16 else torch.amp.GradScaler("cuda")
    if cuda and tc.compile != "off":
        train_model = torch.compile(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(train_model, device_ids=[local_rank] if cuda else None)

    stream = crop_stream(split.train, cfg.train_frames, seed=tc.seed + step, rank=rank, world=world,
                         crops_per_window=tc.crops_per_window)
    val = _val_set(split.val, tc.val_windows, cfg.train_frames) if (is_main and split.val) else None

    def record(rec: dict) -> None:
        history.append(rec)
        _log(metrics_path, rec)
    t_start = time.perf_counter()
    bar = None
    if is_main and tc.progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(TextColumn("pretrain"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                       TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
        bar.start()
        tid = bar.add_task("pretrain", total=tc.steps, completed=step, info="")

    def save(final: bool = False) -> dict:
        meta = _meta(tc, cfg, split, step, windows_seen, elapsed_before + time.perf_counter() - t_start, world)
        if init_meta is not None:
            meta["initialised_from"] = init_meta  # the data the starting weights saw, too
        meta["run_id"] += f"-w{weights_digest(model)}"  # unique per weights, not only per config/seed/step
        ts = {"optimizer": opt.state_dict(), "step": step, "windows_seen": windows_seen,
              "elapsed_s": elapsed_before + time.perf_counter() - t_start, "rng": rng_state(),
              "metrics": json.dumps(history, sort_keys=True)}
        ptr = store.write(step, checkpoint_bytes(model, PREPROCESSING_VERSION, meta, ts), run_id=meta["run_id"],
                          final=final)
        store.put("metrics.jsonl", metrics_path.read_bytes() if metrics_path.exists() else b"")
        if final:
            save_checkpoint(out / "model.pt", model, PREPROCESSING_VERSION, meta)
            store.put("model.pt", (out / "model.pt").read_bytes())
        return ptr

    def validate() -> dict:
        rec = {"split": "val", "step": step}
        if val is not None and len(val):
            # validated with the paper's masks (no whole-body time span): comparable across phases
            r = reconstruction_error(model, val, masking=val_masking, seed=tc.seed, batch_size=8, device=str(device))
            rec.update(val_masked_mm=r["masked_joints_mm"], val_all_mm=r["all_joints_mm"],
                       val_masked_norm=r["masked_joints_normalised"])
        return rec

    last_log, t_log, win_log = {}, time.perf_counter(), 0
    stopped_early = False
    try:
        while step < tc.steps:
            if tc.max_minutes and (elapsed_before + time.perf_counter() - t_start) > tc.max_minutes * 60:
                stopped_early = True
                break
            items = [next(stream) for _ in range(per_rank)]
            x = torch.from_numpy(np.stack([a for a, _ in items])).to(device)
            obs = torch.from_numpy(np.stack([b for _, b in items])).to(device)
            gen = step_generator(tc.seed, rank, step)
            masks = make_masks(obs, masking, gen)
            lr = lr_at(step, tc.steps, tc.warmup_steps, tc.lr)
            for g in opt.param_groups:
                g["lr"] = lr
            parts = train_step(train_model, opt, x, masks, masking, generator=gen, grad_clip=tc.grad_clip,
                               autocast=autocast, scaler=scaler, micro_batch=tc.micro_batch)
            step += 1
            windows_seen += tc.batch_size
            win_log += tc.batch_size
            if is_main and (step % tc.log_every == 0 or step == tc.steps):
                now = time.perf_counter()
                last_log = {"split": "train", "step": step, "lr": lr, **{k: round(v, 6) for k, v in parts.items()},
                            "windows_per_s": round(win_log / max(now - t_log, 1e-9), 3),
                            "elapsed_s": round(elapsed_before + now - t_start, 1)}
                record(last_log)
                if not tc.progress:  # no bar (the log of a pod, CI): one line per logged step
                    print(f"pretrain step {step}/{tc.steps} loss {parts['loss']:.4f} lr {lr:.2e} "
                          f"windows/s {last_log['windows_per_s']}", file=sys.stderr, flush=True)
                t_log, win_log = now, 0
            if bar is not None:
                bar.update(tid, completed=step, info=f"loss {parts['loss']:.4f}")
            if step % tc.ckpt_every == 0 and step < tc.steps:
                if is_main:
                    record(validate())
                    save()
                if world > 1:
                    dist.barrier()
    finally:
        if bar is not None:
            bar.stop()
    summary: dict = {}
    if is_main:
        vrec = validate()
        record(vrec)
        ptr = save(final=True)
        summary = {"step": step, "steps_planned": tc.steps, "stopped_by_time_limit": stopped_early,
                   "checkpoint_store": store.url, "latest": ptr["key"], "windows_seen": windows_seen, "last_train": last_log, "val": vrec,
                   "wall_time_s": round(elapsed_before + time.perf_counter() - t_start, 1), "world_size": world,
                   "model": str(out / "model.pt")}
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        store.put("summary.json", (out / "summary.json").read_bytes())
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return summary


def _meta(tc: TrainConfig, cfg, split, step: int, windows_seen: int, wall: float, world: int) -> dict:
    """Checkpoint metadata: exactly which data the weights saw, how, and the validation metrics."""
    sources = []
    for d in tc.data:
        p = Path(d)
        man = None
        for cand in (p / "manifest.json", p.parent / "manifest.json"):
            if cand.is_file():
                try:
                    man = json.loads(cand.read_text())
                except ValueError:
                    man = None
                break
        sources.append({"path": str(d), "manifest": man})
    metrics = {}
    mp = Path(tc.out) / "metrics.jsonl"
    if mp.exists():
        lines = [json.loads(x) for x in mp.read_text().splitlines() if x.strip()]
        vals = [x for x in lines if x.get("split") == "val"]
        trains = [x for x in lines if x.get("split") == "train"]
        metrics = {"last_val": vals[-1] if vals else None, "last_train": trains[-1] if trains else None}
    return {
        "run_id": f"{cfg.name}-s{tc.seed}-step{step}",
        "model_version": MODEL_VERSION,
        "training": {**asdict(tc), "world_size": world, "torch": torch.__version__},
        "data": {
            "sources": sources,
            "train_subjects": split.train_subjects,
            "val_subjects": split.val_subjects,
            "train_sessions": [split.sessions[str(f)] for f in split.train],
            "train_sessions_fingerprint": data_fingerprint(split.train),
            "val_sessions": [split.sessions[str(f)] for f in split.val],
            "window_frames": 900,
            "crop_frames": cfg.train_frames,
            "windows_seen": windows_seen,
            "steps": step,
            "labels_used": False,
        },
        "metrics": metrics,
        "wall_time_s": round(wall, 1),
    }
