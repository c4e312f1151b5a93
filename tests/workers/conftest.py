"""Fixtures of the pipeline tests: a tiny checkpoint, its predictor, one TorchServe for the session."""

from __future__ import annotations

import pytest

from tests.pipeline_support import TorchServeInstance, checkpoint_version, fit_predictor, tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="session")
def predictor_dir(tmp_path_factory, tiny_ckpt):
    return fit_predictor(tmp_path_factory.mktemp("predictor"), checkpoint_version(tiny_ckpt), dim=32)


@pytest.fixture(scope="session")
def torchserve(tmp_path_factory, tiny_ckpt):
    ts = TorchServeInstance(tmp_path_factory.mktemp("torchserve"), tiny_ckpt).start()
    yield ts
    ts.stop()
