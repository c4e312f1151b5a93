"""Build a TorchServe model archive (.mar) from a GaitMAE checkpoint.

The archive's version is the checkpoint's version (``Checkpoint.version_tag``, e.g.
``gaitmae/1:small:run-3``) made URL-safe (``gaitmae-1-small-run-3``) because TorchServe puts versions in
URL paths; the handler answers the exact ``version_tag``. The serialized file is the checkpoint itself
(loaded with ``weights_only``), the handler is ``serving/handler.py``.

    python -m serving archive --checkpoint C.pt --out model-store/ [--name gaitmae]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

HANDLER = Path(__file__).resolve().parent / "handler.py"


def safe_version(version_tag: str) -> str:
    """A TorchServe version string (letters, digits, '.', '_', '-') for a checkpoint version tag."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", version_tag).strip("-") or "0"


def checkpoint_version(checkpoint: str | Path | None) -> str:
    from gaitcore.model.checkpoint import load_checkpoint

    return load_checkpoint(checkpoint).version_tag


def archive_name(model_name: str, version: str) -> str:
    return f"{model_name}-{version}.mar"


def build_archive(checkpoint: str | Path | None, out_dir: str | Path, model_name: str = "gaitmae",
                  force: bool = True) -> tuple[Path, str]:
    """Write ``<out_dir>/<name>-<version>.mar``; returns (path, TorchServe version)."""
    from gaitcore.model.checkpoint import SHIPPED_CHECKPOINT

    checkpoint = Path(checkpoint) if checkpoint else SHIPPED_CHECKPOINT
    version = safe_version(checkpoint_version(checkpoint))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / archive_name(model_name, version)
    with tempfile.TemporaryDirectory(prefix="gait-mar-") as tmp:
        cmd = [sys.executable, "-c", "from model_archiver.model_packaging import generate_model_archive as g; g()",
               "--model-name", model_name, "--version", version,
               "--serialized-file", str(checkpoint), "--handler", str(HANDLER),
               "--export-path", tmp, "--archive-format", "default"]
        if force:
            cmd.append("--force")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"torch-model-archiver failed: {r.stderr.strip() or r.stdout.strip()}")
        built = Path(tmp) / f"{model_name}.mar"
        target.write_bytes(built.read_bytes())
    return target, version
