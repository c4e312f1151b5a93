"""GaitMAE numerics guard: today's code must compute what the code of record computed.

``reference_outputs.json`` (next to this file) holds outputs of three configs with deterministic,
name-seeded weights (no RNG-order dependence) on a fixed, formula-generated input (some joints zeroed
like masked inputs): ``paper`` and ``tiny``, recorded from the GaitMAE code before the inference speed
work (commit 336ff78), and ``small`` -- the shipped config: one level, temporal attention in 120-frame
chunks, here over 300 frames, so three overlapping chunks -- recorded on 2026-11-24 from commit 1962152.
Until then the third case ran the shipped checkpoint's weights, recorded at 336ff78; 1962152 still
reproduced those within 1e-6, so ``small`` is anchored to the code of record through it. It uses
name-seeded weights so that retraining the shipped checkpoint does not touch this guard of the code.
Any change to the model's code must reproduce all three within ``TOL`` (max abs diff 1e-4).

Regenerate only when the model is meant to compute something else (a new ``MODEL_VERSION``):

    .venv/bin/python tests/gaitcore/model/test_reference_outputs.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

FIXTURE = Path(__file__).with_name("reference_outputs.json")
TOL = 1e-4
SAMPLES = 256  # about this many values of each flattened output are recorded (keeps the fixture small)


def reference_input(batch: int, frames: int) -> torch.Tensor:
    """A fixed [B, T, 26, 4] input from a formula (no RNG): smooth motion, confidence in (0, 1]."""
    b = torch.arange(batch, dtype=torch.float64)[:, None, None, None]
    t = torch.arange(frames, dtype=torch.float64)[None, :, None, None]
    j = torch.arange(26, dtype=torch.float64)[None, None, :, None]
    c = torch.arange(4, dtype=torch.float64)[None, None, None, :]
    x = 0.6 * torch.sin(0.05 * (t + 1) * (1 + 0.1 * j) + 0.7 * c + 0.3 * b) + 0.1 * torch.cos(0.37 * t * (c + 1) + j)
    conf = 0.55 + 0.45 * torch.cos(0.02 * t + 0.5 * j + b) ** 2
    x[..., 3] = conf[..., 0]
    x[:, ::7, 4:8] = 0.0  # a masked group every 7th frame (all four channels, like masked inputs)
    x[:, :, 20] = 0.0  # a joint the sensor lacked
    return x.to(torch.float32)


def deterministic_weights(model: torch.nn.Module) -> None:
    """Fill every parameter from a generator seeded by its name (independent of init order)."""
    with torch.no_grad():
        for name, p in model.state_dict().items():
            g = torch.Generator().manual_seed(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
            v = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm.weight"):
                v = 1.0 + 0.1 * v
            elif p.dim() >= 2:
                v = v * (1.0 / p.shape[-1] ** 0.5)
            else:
                v = 0.02 * v
            p.copy_(v.to(p.dtype))


def _cases():
    from gaitcore.model.embedding import pool
    from gaitcore.model.gaitmae import GaitMAE, get_config

    # (name, model, input): ``small`` over 300 frames runs 3 overlapping 120-frame chunks
    out = []
    for name, frames, batch in (("small", 300, 2), ("paper", 160, 1), ("tiny", 60, 1)):
        m = GaitMAE(get_config(name)).eval()
        deterministic_weights(m)
        out.append((name, m, reference_input(batch, frames)))

    def run(model, x) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            tokens = model.features(x)
            return {"features": tokens, "reconstruction": model.head(tokens), "embedding": pool(tokens)}

    return [(name, run(m, x)) for name, m, x in out]


def _summary(t: torch.Tensor) -> dict:
    f = t.detach().double().flatten()
    stride = -(-f.numel() // SAMPLES)
    return {"shape": list(t.shape), "sum": f.sum().item(), "abs_sum": f.abs().sum().item(),
            "sq_sum": (f * f).sum().item(), "stride": stride,
            "values": [round(v, 7) for v in f[::stride].tolist()]}


def write_fixture() -> None:
    data = {"note": "GaitMAE outputs with name-seeded weights (see the test's docstring for the commit "
                    "each case was recorded from); values = every stride-th element of the flattened output",
            "torch": torch.__version__, "cases": {}}
    for name, outs in _cases():
        data["cases"][name] = {k: _summary(v) for k, v in outs.items()}
    FIXTURE.write_text(json.dumps(data) + "\n")


@pytest.fixture(scope="module")
def computed():
    return dict(_cases())


@pytest.mark.parametrize("case", ["small", "paper", "tiny"])
@pytest.mark.parametrize("output", ["features", "reconstruction", "embedding"])
def test_outputs_match_the_recorded_reference(computed, case, output):
    ref = json.loads(FIXTURE.read_text())["cases"][case][output]
    t = computed[case][output]
    assert list(t.shape) == ref["shape"]
    f = t.double().flatten()
    got = f[::ref["stride"]]
    want = torch.tensor(ref["values"], dtype=torch.float64)
    assert got.shape == want.shape
    diff = (got - want).abs().max().item()
    assert diff <= TOL, f"{case} {output}: max abs diff {diff:.3g} > {TOL}"
    n = f.numel()
    # whole-tensor checks (every element, not only the strided sample): mean, mean |x|, rms
    assert abs(f.sum().item() - ref["sum"]) / n <= TOL
    assert abs(f.abs().sum().item() - ref["abs_sum"]) / n <= TOL
    assert abs((f * f).sum().item() - ref["sq_sum"]) / n <= TOL


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_fixture()
        print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
