"""``gaitfm demo-predictor`` on a tiny cohort with a tiny checkpoint: the artifact, its provenance, the
attribution the dashboards show, and the cache (a second call reuses the folder)."""

from __future__ import annotations

import contextlib
import io
import json
import time

from gaitcore.cli import main
from gaitcore.probe.predictor import Predictor
from tests.pipeline_support import checkpoint_version, tiny_checkpoint

ARGS = ["--subjects", "24", "--seeds", "1", "--sex-specific", "", "--duration-scale", "0.1", "-q"]


def build(out, ckpt, *extra):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["demo-predictor", "--out", str(out), "--checkpoint", str(ckpt), *ARGS, *extra]) == 0
    return buf.getvalue().strip()


def test_demo_predictor_builds_a_synthetic_demonstration_artifact_and_caches_it(tmp_path):
    ckpt = tiny_checkpoint(tmp_path)
    t0 = time.monotonic()
    folder = build(tmp_path / "cache", ckpt)
    first_s = time.monotonic() - t0
    meta = json.loads((tmp_path / "cache" / folder.rsplit("/", 1)[-1] / "predictor.json").read_text())
    assert meta["embedding_model_version"] == checkpoint_version(ckpt)
    assert meta["provenance"]["cohort"] == "synthetic" and meta["provenance"]["demonstration_only"] is True
    assert "gaitcore.synth" in meta["provenance"]["source"] and "seed 1009" in meta["provenance"]["source"]
    assert meta["n_training_subjects"] == 24 and meta["tasks"] == ["treadmill_3kmh"] and meta["task_mode"] == "mean"
    # age, BMI and one phenotype per body system (18), each head with CV metrics and a conformal interval
    assert {"age", "bmi"} <= set(meta["targets"]) and len(meta["targets"]) == 20
    assert all(h["cv"]["r"]["mean"] is not None and h["interval"]["halfwidth"] > 0 for h in meta["heads"])
    assert next(h for h in meta["heads"] if h["target"] == "age")["age_bias"]["slope"] is not None
    # attribution per body system: four shares summing to 1
    assert len(meta["attribution"]) == 18
    for shares in meta["attribution"].values():
        assert set(shares) == {"legs", "arms", "torso", "head"} and abs(sum(shares.values()) - 1) < 1e-3
    assert meta["demo_build"]["windows"] == 24
    # it predicts (gait age with the corrected gap) on a row of its own columns
    pred = Predictor.load(folder)
    row = pred.predict([[0.0] * len(pred.meta["columns"])], pred.meta["columns"], age=[50.0])[0]
    assert "gait_age" in row and "gait_age_gap_corrected" in row
    # same inputs -> the cached folder, without recomputation; another parameter -> another folder
    mtime = (tmp_path / "cache" / folder.rsplit("/", 1)[-1] / "predictor.npz").stat().st_mtime
    t0 = time.monotonic()
    assert build(tmp_path / "cache", ckpt) == folder
    assert time.monotonic() - t0 < first_s / 2
    assert (tmp_path / "cache" / folder.rsplit("/", 1)[-1] / "predictor.npz").stat().st_mtime == mtime
    assert build(tmp_path / "cache", ckpt, "--seed", "5") != folder


def test_demo_predictor_is_deterministic(tmp_path):
    ckpt = tiny_checkpoint(tmp_path)
    a = Predictor.load(build(tmp_path / "a", ckpt, "--subjects", "20", "--targets", "age,bmi"))
    b = Predictor.load(build(tmp_path / "b", ckpt, "--subjects", "20", "--targets", "age,bmi"))
    assert a.meta["arrays_sha256"] == b.meta["arrays_sha256"]


def test_the_shipped_demo_predictor_is_current_and_loads_without_pickles(tmp_path, capsys):
    """`gaitfm demo-predictor` with its defaults answers with the artifact shipped next to the checkpoint
    (rebuild with --ship when the recipe, generator or checkpoint changes): the first ./run demo builds nothing."""
    import numpy as np

    from gaitcore.cli import main
    from gaitcore.cli.cmd_demo_predictor import shipped_folder
    from gaitcore.probe.predictor import NPZ_NAME, Predictor

    assert main(["demo-predictor", "--out", str(tmp_path), "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(shipped_folder().resolve())
    assert not any(tmp_path.iterdir())  # nothing built
    with np.load(shipped_folder() / NPZ_NAME, allow_pickle=False) as z:
        assert all(z[k].dtype == np.float64 for k in z.files)
    pred = Predictor.load(shipped_folder())  # checks the arrays' SHA-256
    assert pred.meta["provenance"]["demonstration_only"] and pred.meta["reference"]["bmi"]["all"]["n"] >= 100
