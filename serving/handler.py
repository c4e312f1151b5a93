"""TorchServe handler for GaitMAE (``torch-model-archiver --handler serving/handler.py``).

TorchServe gathers up to ``batch_size`` requests (waiting at most ``max_batch_delay`` ms) and calls
:func:`handle` with that list; every request holds one or more windows of equal length (see
``serving/wire.py``). Windows of all requests are regrouped by length, run through
``serving.compute.infer`` in batches, and each request gets exactly one JSON answer (TorchServe requires
one item per batch entry): its windows' embeddings and reconstruction errors, and the model version.
A request that cannot be read gets ``{"error": ...}`` without failing the other requests of the batch.

The archive's serialized file is the GaitMAE checkpoint itself; ``model_version`` in the answers is the
checkpoint's ``version_tag`` (the archive version is a URL-safe form of it, see ``serving.archive``).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

log = logging.getLogger(__name__)


def device_for(props: dict) -> str:
    """Where a TorchServe worker computes: the GPU TorchServe assigned it (``gpu_id``, set on a host with
    GPUs, e.g. a GPU node of the cluster) when torch sees CUDA, else the CPU."""
    import torch

    gpu = props.get("gpu_id")
    if gpu is not None and str(gpu) != "" and torch.cuda.is_available():
        return f"cuda:{int(gpu)}"
    return "cpu"


class GaitMAEHandler:
    """Loads the checkpoint once per TorchServe worker and answers batches."""

    def __init__(self) -> None:
        self.model = None
        self.ckpt = None
        self.initialized = False
        self.batch_size = 8
        self.device = "cpu"

    def initialize(self, context) -> None:
        import torch

        from gaitcore.model.checkpoint import load_checkpoint

        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
        props = context.system_properties
        model_dir = props.get("model_dir")
        serialized = context.manifest["model"]["serializedFile"]
        self.ckpt = load_checkpoint(os.path.join(model_dir, serialized))
        self.device = device_for(props)
        self.model = self.ckpt.model().to(self.device)
        self.batch_size = int(props.get("batch_size") or 8) or 8
        self.initialized = True
        log.info("GaitMAE %s loaded on %s (%d parameters)", self.ckpt.version_tag, self.device,
                 self.model.num_params())

    def describe(self) -> dict:
        return {"model_name": "gaitmae", "model_version": self.ckpt.version_tag,
                "embedding_dim": int(self.model.cfg.embedding_dim), "config": self.ckpt.config.name,
                "preprocessing": self.ckpt.preprocessing}

    def _decode(self, row: dict):
        from serving.wire import WireError, decode_json, decode_npy

        body = row.get("body") if isinstance(row, dict) else None
        if body is None and isinstance(row, dict):
            body = row.get("data")
        if isinstance(body, dict):
            if body.get("describe"):
                return "describe"
            return decode_json(body)
        if isinstance(body, (bytes, bytearray)):
            if body[:6] == b"\x93NUMPY":
                return decode_npy(body)
            try:
                obj = json.loads(body)
            except ValueError:
                raise WireError("body is neither a .npy array nor JSON") from None
            if isinstance(obj, dict) and obj.get("describe"):
                return "describe"
            return decode_json(obj)
        raise WireError("empty request body")

    def handle(self, data: list, context) -> list:
        from serving.compute import infer_many
        from serving.wire import WireError

        decoded: list = []
        for row in data:
            try:
                decoded.append(self._decode(row))
            except WireError as exc:
                decoded.append(exc)
        windows, observed, owner = [], [], []
        for i, d in enumerate(decoded):
            if isinstance(d, tuple):
                x, obs = d
                for k in range(x.shape[0]):
                    windows.append(x[k])
                    observed.append(obs[k])
                    owner.append(i)
        emb, err = infer_many(self.model, windows, observed, self.batch_size) if windows else (None, None)
        owner_arr = np.asarray(owner, dtype=np.int64)
        desc = self.describe()
        out = []
        for i, d in enumerate(decoded):
            if isinstance(d, Exception):
                out.append({"error": str(d)})
            elif d == "describe":
                out.append(desc)
            else:
                sel = owner_arr == i
                out.append({**{k: desc[k] for k in ("model_name", "model_version", "embedding_dim")},
                            "embeddings": emb[sel].tolist(), "reconstruction_error": err[sel].tolist()})
        return out


_service = GaitMAEHandler()


def handle(data, context):
    """TorchServe entry point (module-level function handler)."""
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
