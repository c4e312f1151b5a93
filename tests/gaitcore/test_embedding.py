"""Embeddings: the paper's pooling, deterministic outputs, missing joints, the gaitfm embed command."""

from __future__ import annotations

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gaitcore.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from gaitcore.model.data import WindowSet  # noqa: E402
from gaitcore.model.embedding import ID_COLUMNS, embed_windows, embedding_columns, pool, region_matrix  # noqa: E402
from gaitcore.model.gaitmae import CONFIGS, GaitMAE  # noqa: E402
from gaitcore.preprocess import PREPROCESSING_VERSION  # noqa: E402

from .model_fixtures import tiny_cohort  # noqa: E402


def _windows(n=3, T=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, 26, 4)).astype(np.float32)
    obs = np.ones((n, T, 26), bool)
    n_valid = np.full(n, T)
    n_valid[-1] = T // 2
    obs[-1, T // 2:] = False
    x[-1, T // 2:] = 0
    rows = [("S1", "P1", "treadmill_3kmh", i) for i in range(n)]
    return WindowSet(x, obs, np.ones((n, T), np.float32), n_valid, rows)


def test_pool_shape_and_statistics():
    tokens = torch.arange(2 * 5 * 26 * 3, dtype=torch.float32).view(2, 5, 26, 3)
    e = pool(tokens)
    assert e.shape == (2, 4 * 2 * 3)
    reg = torch.einsum("rj,btjc->btrc", region_matrix(), tokens)
    assert torch.allclose(e.view(2, 4, 2, 3)[:, :, 0], reg.mean(1))
    assert torch.allclose(e.view(2, 4, 2, 3)[:, :, 1], torch.quantile(reg, 0.99, dim=1))
    assert len(embedding_columns(128)) == 1024
    # invalid frames are left out of both statistics
    fv = torch.tensor([[True] * 3 + [False] * 2] * 2)
    assert torch.allclose(pool(tokens, fv), pool(tokens[:, :3]))


def test_embeddings_deterministic_and_survive_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = GaitMAE(CONFIGS["tiny"])
    ws = _windows()
    a = embed_windows(model, ws, batch_size=2)
    b = embed_windows(model, ws, batch_size=3)
    assert a.shape == (3, CONFIGS["tiny"].embedding_dim)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    c = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, PREPROCESSING_VERSION)).model()
    assert np.array_equal(embed_windows(c, ws, batch_size=2), a)


def test_missing_joints_do_not_influence_embeddings():
    torch.manual_seed(0)
    model = GaitMAE(CONFIGS["tiny"])
    ws = _windows()
    ws.observed[:, :, [3, 20]] = False
    a = embed_windows(model, ws)
    ws.x[:, :, [3, 20]] = 123.0  # garbage where the sensor had nothing
    b = embed_windows(model, ws)
    assert np.array_equal(a, b)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    return tiny_cohort(tmp_path_factory.mktemp("cohort"), n_subjects=2, seed=4)


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_gaitfm_embed_command(sessions, tmp_path, ext):
    from gaitcore.cli import main

    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pt", GaitMAE(CONFIGS["tiny"]), PREPROCESSING_VERSION, {"run_id": "t"})
    out = tmp_path / f"emb{ext}"
    assert main(["embed", "--checkpoint", str(ckpt), str(sessions), "-o", str(out)]) == 0
    if ext == ".csv":
        with out.open() as fh:
            rows = list(csv.DictReader(fh))
        header = list(rows[0].keys())
    else:
        import pyarrow.parquet as pq

        t = pq.read_table(out)
        header, rows = t.column_names, t.to_pylist()
    assert header[: len(ID_COLUMNS)] == list(ID_COLUMNS)
    assert len(header) == len(ID_COLUMNS) + CONFIGS["tiny"].embedding_dim
    levels = [r["level"] for r in rows]
    assert levels.count("task") == 2 and levels.count("window") >= 2
    assert {r["subject"] for r in rows} == {"SYN00001", "SYN00002"}
    assert all(r["preprocessing_version"] == PREPROCESSING_VERSION for r in rows)
    assert main(["embed", "--checkpoint", str(ckpt), str(sessions), "-o", str(tmp_path / "x.txt")]) == 2
