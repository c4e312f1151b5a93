"""Versioned GaitMAE checkpoints.

A checkpoint is a ``torch.save`` file holding only tensors, numbers and strings, so it loads with
``torch.load(..., weights_only=True)`` (no arbitrary unpickling):

==================  ==============================================================================
key                 content
==================  ==============================================================================
format              ``"gaitmae-checkpoint"``
format_version      int (``FORMAT_VERSION``); a newer one is refused with a clear message
model_version       ``gaitcore.model.gaitmae.MODEL_VERSION`` (architecture code version)
config              JSON string of :class:`GaitMAEConfig`
preprocessing       the ``PREPROCESSING_VERSION`` of the windows the model was trained on
meta                JSON string: training data summary (sources, subjects, sessions, windows),
                    training settings, metrics, wall time, command line
state_dict          model weights (float32)
train_state         optional (resume checkpoints only): optimizer state, step, RNG states
==================  ==============================================================================
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import GaitCoreError
from .gaitmae import MODEL_VERSION, GaitMAE, GaitMAEConfig

FORMAT = "gaitmae-checkpoint"
FORMAT_VERSION = 1
SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "gaitmae-small.pt"


class CheckpointError(GaitCoreError):
    """A checkpoint cannot be used: not a GaitMAE checkpoint, or an incompatible version."""


@dataclass
class Checkpoint:
    config: GaitMAEConfig
    state_dict: dict[str, torch.Tensor]
    preprocessing: str
    meta: dict[str, Any] = field(default_factory=dict)
    model_version: str = MODEL_VERSION
    format_version: int = FORMAT_VERSION
    train_state: dict[str, Any] | None = None
    path: str = ""

    def model(self) -> GaitMAE:
        m = GaitMAE(self.config)
        m.load_state_dict(self.state_dict)
        return m.eval()

    @property
    def version_tag(self) -> str:
        """Identifies the weights: model version + a short content tag from the metadata."""
        return f"{self.model_version}:{self.config.name}:{self.meta.get('run_id', 'unknown')}"


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The GaitMAE inside a DDP and/or torch.compile wrapper."""
    model = getattr(model, "module", model)  # DDP
    return getattr(model, "_orig_mod", model)  # torch.compile


def weights_digest(model: torch.nn.Module) -> str:
    """Short SHA-256 over the parameter names and bytes (state-dict order): tells two sets of weights apart
    that share a config, a seed and a step count (e.g. two phases of 1,000 steps from different starts)."""
    h = hashlib.sha256()
    for name, t in _unwrap(model).state_dict().items():
        h.update(name.encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:8]


def _checkpoint_obj(model: torch.nn.Module, preprocessing: str, meta: dict[str, Any] | None,
                    train_state: dict[str, Any] | None) -> dict[str, Any]:
    model = _unwrap(model)
    cfg: GaitMAEConfig = model.cfg
    obj: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_version": MODEL_VERSION,
        "config": json.dumps(cfg.to_dict(), sort_keys=True),
        "preprocessing": preprocessing,
        "meta": json.dumps(meta or {}, sort_keys=True, default=str),
        "state_dict": {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()},
    }
    if train_state is not None:
        obj["train_state"] = train_state
    return obj


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, preprocessing: str,
                    meta: dict[str, Any] | None = None, train_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically (temp file + rename) so a kill never leaves a torn file."""
    obj = _checkpoint_obj(model, preprocessing, meta, train_state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def checkpoint_bytes(model: torch.nn.Module, preprocessing: str, meta: dict[str, Any] | None = None,
                     train_state: dict[str, Any] | None = None) -> bytes:
    """The bytes of a checkpoint file (for a :mod:`~gaitcore.model.store` object)."""
    buf = io.BytesIO()
    torch.save(_checkpoint_obj(model, preprocessing, meta, train_state), buf)
    return buf.getvalue()


def load_checkpoint(path: str | os.PathLike | None = None, *, map_location: str = "cpu") -> Checkpoint:
    """Load and check a checkpoint (the shipped one when ``path`` is None)."""
    path = Path(path) if path is not None else SHIPPED_CHECKPOINT
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return _load(path, str(path), map_location)


def load_checkpoint_bytes(data: bytes, source: str, *, map_location: str = "cpu") -> Checkpoint:
    """Load and check a checkpoint from its bytes; ``source`` names it in messages (e.g. its store URL)."""
    return _load(io.BytesIO(data), source, map_location)


def _load(f, path: str, map_location: str) -> Checkpoint:
    try:
        obj = torch.load(f, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not our format"
        raise CheckpointError(f"{path} is not a loadable GaitMAE checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a GaitMAE checkpoint (format {obj.get('format') if isinstance(obj, dict) else type(obj).__name__!r})")
    fv = obj.get("format_version")
    if not isinstance(fv, int) or fv > FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {fv}; this gaitcore reads up to version "
                              f"{FORMAT_VERSION}: upgrade gaitcore to load it")
    mv = obj.get("model_version", "")
    if mv.split("/")[0] != MODEL_VERSION.split("/")[0] or mv != MODEL_VERSION:
        raise CheckpointError(f"{path} was written for model version {mv!r}; this gaitcore implements "
                              f"{MODEL_VERSION!r}: the weights do not fit this architecture")
    try:
        cfg = GaitMAEConfig.from_dict(json.loads(obj["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: bad model config ({exc})") from exc
    return Checkpoint(config=cfg, state_dict=obj["state_dict"], preprocessing=obj.get("preprocessing", ""),
                      meta=json.loads(obj.get("meta", "{}")), model_version=mv, format_version=fv,
                      train_state=obj.get("train_state"), path=path)


def check_preprocessing(ckpt: Checkpoint, current: str) -> None:
    """Refuse to run a model on windows from a preprocessing with another major version."""
    def major(v: str) -> str:
        name, _, num = v.partition("/")
        return f"{name}/{num.split('.')[0]}"

    if ckpt.preprocessing and major(ckpt.preprocessing) != major(current):
        raise CheckpointError(f"checkpoint {ckpt.path} was trained on preprocessing {ckpt.preprocessing!r}, "
                              f"this gaitcore produces {current!r}: retrain or use a matching gaitcore")


def load_compatible_checkpoint(path: str | os.PathLike | None = None) -> Checkpoint:
    """Load a checkpoint and refuse it if its preprocessing differs from this software's."""
    from ..preprocess import PREPROCESSING_VERSION

    ckpt = load_checkpoint(path)
    check_preprocessing(ckpt, PREPROCESSING_VERSION)
    return ckpt
