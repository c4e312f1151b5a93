"""Checkpoints: round trip gives identical outputs; weights_only loading; incompatible versions refused."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from gaitcore.model import checkpoint as ck  # noqa: E402
from gaitcore.model.gaitmae import CONFIGS, GaitMAE  # noqa: E402
from gaitcore.preprocess import PREPROCESSING_VERSION  # noqa: E402


def test_round_trip_identical_outputs(tmp_path):
    torch.manual_seed(0)
    m = GaitMAE(CONFIGS["tiny"]).eval()
    meta = {"data": {"train_subjects": ["A", "B"]}, "run_id": "t"}
    p = ck.save_checkpoint(tmp_path / "m.pt", m, PREPROCESSING_VERSION, meta)
    raw = torch.load(p, weights_only=True)  # plain tensors and strings only
    assert raw["format"] == ck.FORMAT and raw["format_version"] == ck.FORMAT_VERSION
    c = ck.load_checkpoint(p)
    assert c.config == m.cfg and c.meta == meta and c.preprocessing == PREPROCESSING_VERSION
    x = torch.randn(2, 20, 26, 4)
    with torch.no_grad():
        assert torch.equal(m(x), c.model()(x))


def test_refuses_newer_format_and_foreign_files(tmp_path):
    m = GaitMAE(CONFIGS["tiny"])
    p = ck.save_checkpoint(tmp_path / "m.pt", m, PREPROCESSING_VERSION)
    obj = torch.load(p, weights_only=True)
    obj["format_version"] = ck.FORMAT_VERSION + 1
    torch.save(obj, tmp_path / "new.pt")
    with pytest.raises(ck.CheckpointError, match="upgrade gaitcore"):
        ck.load_checkpoint(tmp_path / "new.pt")
    obj["format_version"] = ck.FORMAT_VERSION
    obj["model_version"] = "gaitmae/999"
    torch.save(obj, tmp_path / "arch.pt")
    with pytest.raises(ck.CheckpointError, match="model version"):
        ck.load_checkpoint(tmp_path / "arch.pt")
    torch.save({"hello": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ck.CheckpointError, match="not a GaitMAE checkpoint"):
        ck.load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ck.CheckpointError):
        ck.load_checkpoint(tmp_path / "junk.pt")


def test_refuses_object_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": ck.FORMAT, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ck.CheckpointError, match="not a loadable"):
        ck.load_checkpoint(tmp_path / "evil.pt")


def test_preprocessing_major_version_checked(tmp_path):
    m = GaitMAE(CONFIGS["tiny"])
    c = ck.load_checkpoint(ck.save_checkpoint(tmp_path / "m.pt", m, "gaitcore.preprocess/0.9"))
    with pytest.raises(ck.CheckpointError, match="preprocessing"):
        ck.check_preprocessing(c, "gaitcore.preprocess/1.0")
    ck.check_preprocessing(c, "gaitcore.preprocess/0.12")


@pytest.mark.skipif(not ck.SHIPPED_CHECKPOINT.exists(), reason="shipped checkpoint not built yet")
def test_shipped_checkpoint_loads_and_is_small():
    assert ck.SHIPPED_CHECKPOINT.stat().st_size <= 20 * 1024 * 1024
    c = ck.load_checkpoint()
    assert c.config.embedding_dim == 1024
    data = c.meta["data"]
    assert data["train_subjects"] and data["labels_used"] is False
    assert set(data["train_subjects"]).isdisjoint(data["val_subjects"])
    json.dumps(c.meta)


def test_weights_digest_depends_on_the_weights_only():
    from gaitcore.model.checkpoint import weights_digest

    a, b = GaitMAE(CONFIGS["tiny"]), GaitMAE(CONFIGS["tiny"])
    b.load_state_dict(a.state_dict())
    assert weights_digest(a) == weights_digest(b) and len(weights_digest(a)) == 8
    with torch.no_grad():
        next(b.parameters()).add_(1e-3)
    assert weights_digest(a) != weights_digest(b)
