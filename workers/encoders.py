"""Encoder versions on the workers' side: the checkpoint file of a registered ``EncoderVersion`` and the
inference client that serves a given version.

* :func:`checkpoint_file` -- the encoder's ``artifact_uri`` (a repository path such as the shipped
  ``gaitcore/model/checkpoints/gaitmae-small.pt``, an absolute path, ``file://`` or ``s3://bucket/key``:
  ``gaitcore.model.store.open_store`` reads it) fetched into ``<VAR_DIR>/cache/encoders/<sha256>.pt``.
  The file's SHA-256 must equal the registered ``file_sha256`` (when recorded) and the loaded
  checkpoint's ``version_tag`` the registered tag, else :class:`EncoderArtifactError`.
* :func:`live_encoder` -- the registry's default encoder (``is_default``, set by a rollout that went
  live), or None: then the configured checkpoint (``GAIT_MODEL_CHECKPOINT`` / TorchServe's default) serves.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings

REPO = Path(__file__).resolve().parents[1]


class EncoderArtifactError(RuntimeError):
    """The encoder's checkpoint cannot be fetched or is not what the registry says."""


def _cache_dir() -> Path:
    d = Path(settings.VAR_DIR) / "cache" / "encoders"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _read_artifact(uri: str) -> bytes:
    from gaitcore.model.store import StoreError, open_store

    if "://" not in uri:
        p = Path(uri)
        p = p if p.is_absolute() else REPO / p
        if not p.exists():
            raise EncoderArtifactError(f"encoder artifact {uri} does not exist")
        return p.read_bytes()
    parent, _, name = uri.rstrip("/").rpartition("/")
    try:
        data = open_store(parent).get(name)
    except StoreError as exc:
        raise EncoderArtifactError(f"encoder artifact {uri}: {exc}") from exc
    if data is None:
        raise EncoderArtifactError(f"encoder artifact {uri} does not exist")
    return data


def checkpoint_file(encoder) -> Path:
    """The local, checked checkpoint file of ``encoder`` (an ``EncoderVersion``), fetched once."""
    if not encoder.artifact_uri:
        raise EncoderArtifactError(f"encoder {encoder.version_tag} has no artifact_uri")
    if encoder.file_sha256:
        cached = _cache_dir() / f"{encoder.file_sha256}.pt"
        if cached.exists():
            return cached
    data = _read_artifact(encoder.artifact_uri)
    sha = hashlib.sha256(data).hexdigest()
    if encoder.file_sha256 and sha != encoder.file_sha256:
        raise EncoderArtifactError(f"encoder {encoder.version_tag}: {encoder.artifact_uri} has SHA-256 {sha}, "
                                   f"the registry recorded {encoder.file_sha256}")
    target = _cache_dir() / f"{sha}.pt"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=_cache_dir(), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        from gaitcore.model.checkpoint import load_checkpoint

        tag = load_checkpoint(tmp).version_tag
        if tag != encoder.version_tag:
            os.unlink(tmp)
            raise EncoderArtifactError(f"{encoder.artifact_uri} holds {tag}, not {encoder.version_tag}")
        os.replace(tmp, target)
    return target


def live_encoder():
    """The ``EncoderVersion`` a rollout made the default, or None (the configured checkpoint serves)."""
    from registry.models import EncoderVersion

    return EncoderVersion.objects.filter(is_default=True).first()


def torchserve_version(version_tag: str) -> str:
    """The TorchServe model version of an encoder (``serving.archive``'s name for it)."""
    from serving.archive import safe_version

    return safe_version(version_tag)
