"""Helpers shared by tests (importable, unlike conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this venv with the repo and platform/ on the path."""
    # A child gets a clean configuration: none of the suite's own GAIT_*/database/S3 variables, and not
    # DJANGO_ALLOW_ASYNC_UNSAFE (the browser tests set it in this process; `check --deploy` rejects it).
    drop = ("GAIT_", "DATABASE_URL", "AWS_", "DJANGO_ALLOW_ASYNC_UNSAFE")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    full_env["DJANGO_SETTINGS_MODULE"] = "gaitsite.settings"
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "platform"), str(REPO)])
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)
