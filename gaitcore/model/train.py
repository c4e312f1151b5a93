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
from collections.abc import Callable
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


def pretrain(tc: TrainConfig, on_event: Callable[[dict], None] | None = None) -> dict:
    """Run (or resume) pretraining; returns the summary (also written to RUN/summary.json on rank 0).

    ``on_event`` (rank 0 only) is called with ``{"event": "resumed", "step", "checkpoint"}`` when the run
    continues from the store's checkpoint, ``{"event": "step", "step", "steps", "loss", "lr"}`` after every
    step and ``{"event": "checkpoint", "step", "key", "final"}`` after every checkpoint. It may raise to
    stop the run between two steps (e.g. a job that was cancelled): the exception propagates, the
    checkpoints written so far stay in the store."""
    rank, world, local_rank = _dist_env()
    cuda = torch.cuda.is_available()
    device = _start_processes(world, local_rank, cuda)
    if tc.batch_size % world:
        raise ValueError(f"batch size {tc.batch_size} must be divisible by the {world} processes")
    if tc.micro_batch < 0:
        raise ValueError(f"micro-batch {tc.micro_batch} must be >= 0 (0: the whole batch at once)")
    out = Path(tc.out)
    is_main = rank == 0
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    cfg = get_config(tc.config)
    masking = MaskingConfig(**tc.masking)
    split = _split(tc, out, is_main)
    run = _Run(tc, cfg, split, out, device, world, is_main, val_masking=replace(masking, time_span_prob=0.0),
               on_event=on_event if is_main else None)
    run.start_or_resume()
    train_model, autocast, scaler = _for_training(run.model, tc, cuda, world, local_rank)
    stream = crop_stream(split.train, cfg.train_frames, seed=tc.seed + run.step, rank=rank, world=world,
                         crops_per_window=tc.crops_per_window)
    run.val = _val_set(split.val, tc.val_windows, cfg.train_frames) if (is_main and split.val) else None
    run.t_start = time.perf_counter()
    stopped_early, last_log = _train_steps(run, train_model, stream, masking, rank, autocast, scaler)
    summary: dict = {}
    if is_main:
        summary = run.finish(stopped_early, last_log)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return summary


def _start_processes(world: int, local_rank: int, cuda: bool) -> torch.device:
    """This process's device; under torchrun, join the process group (NCCL on GPU, gloo on CPU)."""
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
        if cuda:
            torch.cuda.set_device(device)
        else:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    return device


def _split(tc: TrainConfig, out: Path, is_main: bool):
    """Sessions split by subject into train / validation (recorded in RUN/split.json)."""
    files = find_sessions(tc.data)
    if not files:
        raise ValueError(f"no session files (*.gait.npz) under {tc.data}")
    split = split_sessions(files, tc.val_fraction, tc.seed)
    if not split.train:
        raise ValueError("every subject fell into the validation split; lower --val-fraction")
    if is_main:
        (out / "split.json").write_text(json.dumps(split.summary(), indent=1))
    return split


def _for_training(model: torch.nn.Module, tc: TrainConfig, cuda: bool, world: int, local_rank: int):
    """(the module the steps run, autocast, GradScaler): CUDA gets mixed precision and torch.compile if
    asked; under DDP the module is wrapped. On CPU: the model itself, fp32, eager."""
    autocast, scaler, train_model = None, None, model
    if cuda and tc.amp != "off":
        bf16 = torch.cuda.is_bf16_supported()
        autocast = torch.autocast("cuda", dtype=torch.bfloat16 if bf16 else torch.float16)
        scaler = None if bf16 else torch.amp.GradScaler("cuda")
    if cuda and tc.compile != "off":
        train_model = torch.compile(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(train_model, device_ids=[local_rank] if cuda else None)
    return train_model, autocast, scaler


@dataclass
class _Run:
    """One process's pretraining state: the model, its optimizer, how far it got and the metrics so far
    (what a checkpoint in the store holds)."""

    tc: TrainConfig
    cfg: Any
    split: Any
    out: Path
    device: torch.device
    world: int
    is_main: bool
    val_masking: MaskingConfig
    model: Any = None
    opt: Any = None
    store: Any = None
    step: int = 0
    windows_seen: int = 0
    elapsed_before: float = 0.0  # seconds spent before this process resumed the run
    init_meta: dict | None = None
    history: list[dict] = field(default_factory=list)  # every metrics record so far (rank 0)
    val: WindowSet | None = None
    t_start: float = 0.0
    on_event: Callable[[dict], None] | None = None

    def emit(self, **event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    @property
    def metrics_path(self) -> Path:
        return self.out / "metrics.jsonl"

    def start_or_resume(self) -> None:
        """A seeded model and its optimizer, from ``--init`` weights if given; with ``resume``, continued
        from the checkpoint the store's ``latest`` pointer names (a store that has one needs ``resume``)."""
        tc, cfg = self.tc, self.cfg
        torch.manual_seed(tc.seed)
        self.model = GaitMAE(cfg).to(self.device)
        self.opt = make_optimizer(self.model, tc.lr, tc.weight_decay)
        if tc.init:
            ick = load_checkpoint(tc.init)
            if ick.config != cfg:
                raise ValueError(f"--init {tc.init} holds config {ick.config.name!r}, not {cfg.name!r}")
            self.model.load_state_dict(ick.state_dict)
            self.init_meta = {"path": str(tc.init), "run_id": ick.meta.get("run_id"), "data": ick.meta.get("data"),
                              "wall_time_s": ick.meta.get("wall_time_s")}
        self.store = CheckpointStore.open(tc.checkpoint_store or self.out, keep=tc.keep_checkpoints)
        ptr = _resume_point(self.store, self.world)
        if ptr is not None and not tc.resume:
            raise ValueError(f"the checkpoint store {self.store.url} already holds a checkpoint (step {ptr.get('step')}): "
                             "pass --resume to continue that run, or use another --checkpoint-store / --out")
        if ptr is not None:
            self._resume(ptr)
        elif self.is_main:
            self.metrics_path.unlink(missing_ok=True)  # a fresh run: no records of an earlier one

    def _resume(self, ptr: dict) -> None:
        where = f"{self.store.url}/{ptr['key']}"
        ck = load_checkpoint_bytes(self.store.read(ptr["key"]), where, map_location=str(self.device))
        if ck.config != self.cfg:
            raise ValueError(f"{where} holds config {ck.config.name!r}, not {self.cfg.name!r}; use another store")
        self.model.load_state_dict(ck.state_dict)
        ts = ck.train_state or {}
        if "optimizer" in ts:
            self.opt.load_state_dict(ts["optimizer"])
        self.step = int(ts.get("step", 0))
        self.windows_seen = int(ts.get("windows_seen", 0))
        self.elapsed_before = float(ts.get("elapsed_s", 0.0))
        if "rng" in ts:
            set_rng_state(ts["rng"])
        self.history = json.loads(ts.get("metrics", "[]"))
        if self.is_main:  # what was logged after this checkpoint is dropped: those steps run again
            self.metrics_path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in self.history))
            print(f"resuming from {where} at step {self.step}", file=sys.stderr)
        self.emit(event="resumed", step=self.step, checkpoint=ptr["key"])

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t_start

    def record(self, rec: dict) -> None:
        self.history.append(rec)
        _log(self.metrics_path, rec)

    def save(self, final: bool = False) -> dict:
        """A checkpoint into the store (and its ``latest`` pointer moved to it); at the end also model.pt."""
        meta = _meta(self.tc, self.cfg, self.split, self.step, self.windows_seen, self.elapsed(), self.world)
        if self.init_meta is not None:
            meta["initialised_from"] = self.init_meta  # the data the starting weights saw, too
        meta["run_id"] += f"-w{weights_digest(self.model)}"  # unique per weights, not only per config/seed/step
        ts = {"optimizer": self.opt.state_dict(), "step": self.step, "windows_seen": self.windows_seen,
              "elapsed_s": self.elapsed(), "rng": rng_state(), "metrics": json.dumps(self.history, sort_keys=True)}
        ptr = self.store.write(self.step, checkpoint_bytes(self.model, PREPROCESSING_VERSION, meta, ts),
                               run_id=meta["run_id"], final=final)
        self.store.put("metrics.jsonl", self.metrics_path.read_bytes() if self.metrics_path.exists() else b"")
        if final:
            save_checkpoint(self.out / "model.pt", self.model, PREPROCESSING_VERSION, meta)
            self.store.put("model.pt", (self.out / "model.pt").read_bytes())
        self.emit(event="checkpoint", step=self.step, key=ptr["key"], final=final)
        return ptr

    def validate(self) -> dict:
        rec = {"split": "val", "step": self.step}
        if self.val is not None and len(self.val):
            # validated with the paper's masks (no whole-body time span): comparable across phases
            r = reconstruction_error(self.model, self.val, masking=self.val_masking, seed=self.tc.seed, batch_size=8,
                                     device=str(self.device))
            rec.update(val_masked_mm=r["masked_joints_mm"], val_all_mm=r["all_joints_mm"],
                       val_masked_norm=r["masked_joints_normalised"])
        return rec

    def finish(self, stopped_early: bool, last_log: dict) -> dict:
        """Rank 0: validate, save the final checkpoint and model.pt, write RUN/summary.json (and to the store)."""
        vrec = self.validate()
        self.record(vrec)
        ptr = self.save(final=True)
        summary = {"step": self.step, "steps_planned": self.tc.steps, "stopped_by_time_limit": stopped_early,
                   "checkpoint_store": self.store.url, "latest": ptr["key"], "windows_seen": self.windows_seen,
                   "last_train": last_log, "val": vrec, "wall_time_s": round(self.elapsed(), 1),
                   "world_size": self.world, "model": str(self.out / "model.pt")}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
        self.store.put("summary.json", (self.out / "summary.json").read_bytes())
        return summary


def _progress_bar(tc: TrainConfig, step: int):
    """A rich progress bar started at ``step`` and its task id."""
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
    return bar, bar.add_task("pretrain", total=tc.steps, completed=step, info="")


def _train_steps(run: _Run, train_model, stream, masking: MaskingConfig, rank: int, autocast,
                 scaler) -> tuple[bool, dict]:
    """Optimisation steps until ``tc.steps`` (or the time limit): log, validate and checkpoint on the way.
    Returns (stopped by the time limit, the last train log record)."""
    tc, is_main = run.tc, run.is_main
    per_rank = tc.batch_size // run.world
    bar, tid = _progress_bar(tc, run.step) if (is_main and tc.progress) else (None, None)
    last_log, t_log, win_log = {}, time.perf_counter(), 0
    try:
        while run.step < tc.steps:
            if tc.max_minutes and run.elapsed() > tc.max_minutes * 60:
                return True, last_log
            items = [next(stream) for _ in range(per_rank)]
            x = torch.from_numpy(np.stack([a for a, _ in items])).to(run.device)
            obs = torch.from_numpy(np.stack([b for _, b in items])).to(run.device)
            gen = step_generator(tc.seed, rank, run.step)
            masks = make_masks(obs, masking, gen)
            lr = lr_at(run.step, tc.steps, tc.warmup_steps, tc.lr)
            for g in run.opt.param_groups:
                g["lr"] = lr
            parts = train_step(train_model, run.opt, x, masks, masking, generator=gen, grad_clip=tc.grad_clip,
                               autocast=autocast, scaler=scaler, micro_batch=tc.micro_batch)
            run.step += 1
            run.windows_seen += tc.batch_size
            win_log += tc.batch_size
            if is_main and (run.step % tc.log_every == 0 or run.step == tc.steps):
                now = time.perf_counter()
                last_log = {"split": "train", "step": run.step, "lr": lr, **{k: round(v, 6) for k, v in parts.items()},
                            "windows_per_s": round(win_log / max(now - t_log, 1e-9), 3),
                            "elapsed_s": round(run.elapsed_before + now - run.t_start, 1)}
                run.record(last_log)
                if not tc.progress:  # no bar (the log of a pod, CI): one line per logged step
                    print(f"pretrain step {run.step}/{tc.steps} loss {parts['loss']:.4f} lr {lr:.2e} "
                          f"windows/s {last_log['windows_per_s']}", file=sys.stderr, flush=True)
                t_log, win_log = now, 0
            if bar is not None:
                bar.update(tid, completed=run.step, info=f"loss {parts['loss']:.4f}")
            run.emit(event="step", step=run.step, steps=tc.steps, loss=parts["loss"], lr=lr)
            if run.step % tc.ckpt_every == 0 and run.step < tc.steps:
                if is_main:
                    run.record(run.validate())
                    run.save()
                if run.world > 1:
                    dist.barrier()
    finally:
        if bar is not None:
            bar.stop()
    return False, last_log


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
