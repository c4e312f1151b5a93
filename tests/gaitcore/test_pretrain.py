"""Pretraining: the loss falls when over-fitting one batch; schedule; the CLI runs, checkpoints, resumes."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from gaitcore.model.gaitmae import CONFIGS, GaitMAE  # noqa: E402
from gaitcore.model.masking import MaskingConfig, make_masks  # noqa: E402
from gaitcore.model.train import TrainConfig, lr_at, make_optimizer, pretrain, train_step  # noqa: E402

from .model_fixtures import tiny_cohort  # noqa: E402


def _smooth_batch(B=4, T=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 6.28, T)[None, :, None, None]
    phase = torch.rand(B, 1, 26, 3, generator=g) * 6.28
    amp = torch.rand(B, 1, 26, 3, generator=g) * 0.3
    off = torch.randn(B, 1, 26, 3, generator=g) * 0.3
    xyz = off + amp * torch.sin(t + phase)
    return torch.cat([xyz, torch.ones(B, T, 26, 1)], dim=-1)


def test_loss_falls_when_overfitting_one_batch():
    torch.manual_seed(0)
    model = GaitMAE(CONFIGS["tiny"])
    opt = make_optimizer(model, 3e-3, 0.0)
    x = _smooth_batch()
    cfg = MaskingConfig(jitter_prob=0.0)
    masks = make_masks(torch.ones(x.shape[:3], dtype=torch.bool), cfg, torch.Generator().manual_seed(1))
    losses = [train_step(model, opt, x, masks, cfg)["loss"] for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0], losses[::10]


def test_lr_schedule_warmup_then_cosine():
    assert lr_at(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert lr_at(9, 100, 10, 1.0) == pytest.approx(1.0)
    assert lr_at(55, 100, 10, 1.0) == pytest.approx(0.5)
    assert lr_at(100, 100, 10, 1.0) == pytest.approx(0.0, abs=1e-9)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    return tiny_cohort(tmp_path_factory.mktemp("cohort"))


def test_pretrain_cli_checkpoints_and_resumes(sessions, tmp_path):
    from gaitcore.cli import main
    from gaitcore.model.checkpoint import load_checkpoint, load_checkpoint_bytes
    from gaitcore.model.store import CheckpointStore

    out = tmp_path / "run"
    args = ["pretrain", "--config", "tiny", "--data", str(sessions), "--out", str(out), "--batch-size", "2",
            "--warmup-steps", "1", "--ckpt-every", "2", "--log-every", "1", "--val-fraction", "0.3", "--no-progress"]
    assert main(args + ["--steps", "2"]) == 0  # "killed" after step 2: the latest checkpoint holds step 2
    store = CheckpointStore.open(out)
    ptr = store.latest()
    assert ptr["step"] == 2 and (out / ptr["key"]).is_file()
    assert load_checkpoint_bytes(store.read(ptr["key"]), "x").train_state["step"] == 2
    assert main(args + ["--steps", "3"]) == 2  # a store holding a checkpoint is refused without --resume
    assert main(args + ["--steps", "3", "--resume"]) == 0  # resumes at step 2 and runs one more step
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in lines if r["split"] == "train"]
    assert steps == [1, 2, 3]
    final = load_checkpoint(out / "model.pt")
    assert final.train_state is None
    data = final.meta["data"]
    assert data["steps"] == 3 and data["windows_seen"] == 6 and data["labels_used"] is False
    assert data["train_sessions_fingerprint"].startswith("sha256:")
    assert set(data["train_subjects"]).isdisjoint(data["val_subjects"])
    assert len(data["train_subjects"]) + len(data["val_subjects"]) == 6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 3 and summary["latest"] == store.latest()["key"]


def test_subject_split_is_stable_and_disjoint(sessions):
    from gaitcore.model.data import find_sessions, split_sessions

    files = find_sessions([sessions])
    a, b = split_sessions(files, 0.5, seed=1), split_sessions(list(reversed(files)), 0.5, seed=1)
    assert a.val_subjects == b.val_subjects and a.train_subjects == b.train_subjects
    assert set(a.train_subjects).isdisjoint(a.val_subjects)


def test_refuses_empty_data(tmp_path):
    with pytest.raises(ValueError, match="no session files"):
        pretrain(TrainConfig(config="tiny", data=[str(tmp_path)], out=str(tmp_path / "r"), steps=1, progress=False))


def test_pretrain_cli_records_time_span_masking_and_refuses_a_bad_share(sessions, tmp_path, capsys):
    from gaitcore.cli import main
    from gaitcore.model.checkpoint import load_checkpoint

    out = tmp_path / "run"
    args = ["pretrain", "--config", "tiny", "--data", str(sessions), "--out", str(out), "--batch-size", "2",
            "--warmup-steps", "1", "--ckpt-every", "1", "--log-every", "1", "--val-fraction", "0.3", "--no-progress",
            "--steps", "1", "--time-span-frames", "12"]
    assert main(args + ["--time-span-prob", "1.5"]) == 2
    assert "time_span_prob must be between 0 and 1" in capsys.readouterr().err
    assert not out.exists()
    assert main(args + ["--time-span-prob", "0.5"]) == 0
    final = load_checkpoint(out / "model.pt")
    masking = final.meta["training"]["masking"]
    assert masking["time_span_prob"] == 0.5 and masking["time_span_frames"] == 12
    # same config, seed and step count as a paper-mask run, other weights: the version tag tells them apart
    other = tmp_path / "other"
    assert main(args[:6] + [str(other)] + args[7:] + ["--time-span-prob", "0"]) == 0
    tags = {final.version_tag, load_checkpoint(other / "model.pt").version_tag}
    assert len(tags) == 2 and all(":tiny-s0-step1-w" in t for t in tags)


def test_micro_batches_make_the_same_step_as_the_whole_batch():
    """Gradient accumulation is exact: chunks of 1 and 3 crops give the whole batch's loss and update, also
    when the chunks hold different numbers of observed joints (the loss is normalised over the batch)."""
    x = _smooth_batch(B=5, T=32, seed=3)
    observed = torch.ones(x.shape[:3], dtype=torch.bool)
    observed[0, :, 20:] = False  # one crop misses its head joints: chunks differ in observed joints
    observed[3, 10:20] = False
    cfg = MaskingConfig()  # jitter included: drawn once for the whole batch
    masks = make_masks(observed, cfg, torch.Generator().manual_seed(2))
    results = {}
    for micro in (0, 1, 3):
        torch.manual_seed(0)
        model = GaitMAE(CONFIGS["tiny"])
        opt = make_optimizer(model, 1e-3, 0.01)
        parts = train_step(model, opt, x, masks, cfg, generator=torch.Generator().manual_seed(4), micro_batch=micro)
        results[micro] = (parts, {k: v.clone() for k, v in model.state_dict().items()})
    whole_parts, whole = results[0]
    for micro in (1, 3):
        parts, state = results[micro]
        for k in ("loss", "mpjpe", "velocity", "grad_norm"):
            assert parts[k] == pytest.approx(whole_parts[k], rel=1e-5), (micro, k)
        for k, v in state.items():
            assert torch.allclose(v, whole[k], atol=1e-6, rtol=1e-5), (micro, k)


def test_pretrain_cli_records_micro_batch_and_refuses_a_negative_one(sessions, tmp_path, capsys):
    from gaitcore.cli import main
    from gaitcore.model.checkpoint import load_checkpoint

    out = tmp_path / "run"
    args = ["pretrain", "--config", "tiny", "--data", str(sessions), "--out", str(out), "--batch-size", "2",
            "--warmup-steps", "1", "--ckpt-every", "1", "--log-every", "1", "--val-fraction", "0.3", "--no-progress",
            "--steps", "1"]
    assert main(args + ["--micro-batch", "-1"]) == 2
    assert "micro-batch -1 must be >= 0" in capsys.readouterr().err
    assert not out.exists()
    assert main(args + ["--micro-batch", "1"]) == 0
    assert load_checkpoint(out / "model.pt").meta["training"]["micro_batch"] == 1
