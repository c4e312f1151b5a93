"""Helpers shared by tests (importable, unlike conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this venv with the repo and platform/ on the path."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL", "AWS_"))}
    full_env["DJANGO_SETTINGS_MODULE"] = "gaitsite.settings"
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "platform"), str(REPO)])
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)
