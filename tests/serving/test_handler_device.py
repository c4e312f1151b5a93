"""The handler computes where TorchServe placed its worker: the GPU of ``gpu_id`` when CUDA is there.

No GPU exists on the test machines: torch's CUDA probe is the one thing replaced (the narrowest seam);
the CPU path runs for real in tests/serving/test_serving.py."""

from __future__ import annotations

import numpy as np
import torch

from serving.handler import device_for


def test_device_follows_torchserve_gpu_id(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_for({"gpu_id": 1}) == "cuda:1"
    assert device_for({"gpu_id": "0"}) == "cuda:0"
    assert device_for({}) == "cpu"  # a CPU-only TorchServe sets no gpu_id
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_for({"gpu_id": 0}) == "cpu"  # gpu_id but no CUDA in this torch build


def test_infer_returns_cpu_arrays_from_the_models_device():
    import dataclasses

    from gaitcore.model.gaitmae import GaitMAE, get_config
    from serving.compute import infer

    torch.manual_seed(0)
    model = GaitMAE(dataclasses.replace(get_config("tiny"), context_frames=48))
    x = np.random.default_rng(0).normal(size=(2, 48, 26, 4)).astype(np.float32)
    emb, err = infer(model, x, np.ones((2, 48, 26), bool))
    assert emb.shape == (2, model.cfg.embedding_dim) and emb.dtype == np.float32 and np.isfinite(err).all()
