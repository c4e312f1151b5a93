"""The pipeline on the embedded defaults (SQLite database and broker, local files, in-process model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO
from tests.pipeline_support import WINDOWED_TASKS

pytestmark = pytest.mark.integration


def test_uploaded_session_ends_done_on_the_embedded_defaults(tmp_path, tiny_ckpt, predictor_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL", "AWS_"))}
    r = subprocess.run([sys.executable, str(REPO / "tests" / "workers" / "embedded_e2e.py"), "--var-dir", str(tmp_path),
                        "--checkpoint", str(tiny_ckpt), "--predictor", str(predictor_dir)],
                       env=env, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:] + (tmp_path / "worker.log").read_text()[-4000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["status"] == "done", out
    assert out["features"] == 5 and out["embeddings"] == WINDOWED_TASKS + 1 and out["predictions"] >= 3, out
