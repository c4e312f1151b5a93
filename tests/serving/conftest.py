"""Fixtures of the serving tests: a tiny checkpoint and one TorchServe for the session."""

from __future__ import annotations

import pytest

from tests.pipeline_support import TorchServeInstance, tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="session")
def torchserve(tmp_path_factory, tiny_ckpt):
    ts = TorchServeInstance(tmp_path_factory.mktemp("torchserve"), tiny_ckpt).start()
    yield ts
    ts.stop()
