"""Shared plumbing of the importers: reading (gzip or plain) bytes, and turning a validated recording in a
source schema into a canonical 32-joint :class:`~gaitcore.sessionfile.Session`."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import ValidationError
from ..schemas import AZURE32, TASKS, JointSchema
from ..sessionfile import Session, TaskSegment
from ..validation import DEFAULT_LIMITS, CleanRecording, Limits, RawRecording, check_file

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Parsed:
    """What a format parser returns: the raw recording plus format facts for the report and metadata."""

    raw: RawRecording
    sensor: str
    warnings: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def read_input(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The file's bytes, gunzipped when they start with the gzip magic. Rejects empty / too large files."""
    p = Path(path)
    check_file(p, limits)
    data = p.read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            data = _gunzip_limited(data, limits.max_file_bytes, str(p))
        except (OSError, EOFError, zlib.error) as exc:
            raise ValidationError(f"corrupt gzip file: {exc}", code="parse_error", file=str(p)) from exc
        if not data.strip():
            raise ValidationError("empty file (nothing inside the gzip)", code="empty", file=str(p))
    if not data.strip():
        raise ValidationError("empty file (only whitespace)", code="empty", file=str(p))
    return data


def _gunzip_limited(data: bytes, limit: int, file: str) -> bytes:
    """Decompress, refusing to produce more than ``limit`` bytes (gzip bombs)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit:
        raise ValidationError(f"file too large: decompressed content above the limit {limit / 1e6:.0f} MB "
                              "(raise it with --max-file-mb)", code="too_large", file=file)
    # concatenated gzip members (rare): fall back to the stdlib for the rest
    if d.unused_data:
        out = gzip.decompress(data)
    return out


def decode_text(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("latin-1")
        except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes everything
            raise ValidationError("not a text file", code="parse_error", file=file) from exc


def default_subject(path: str | os.PathLike) -> str:
    """Subject pseudonym when none is given: the name of the input file's parent folder."""
    name = Path(path).absolute().parent.name  # as given: a symlinked folder keeps its own name
    return name or "unknown"


def to_azure32(clean: CleanRecording, schema: JointSchema) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map [T, J, 3] / [T, J] of ``schema`` into AZURE32: positions [T,32,3] float32 mm, confidence
    [T,32] uint8 (joints the sensor lacks: 0 and NONE) and repaired [T,32] bool."""
    t = clean.positions.shape[0]
    pos = np.zeros((t, AZURE32.size, 3), np.float32)
    conf = np.zeros((t, AZURE32.size), np.uint8)
    rep = np.zeros((t, AZURE32.size), bool)
    src = [j for j, a in enumerate(schema.to_azure) if a is not None]
    dst = [schema.to_azure[j] for j in src]
    pos[:, dst] = clean.positions[:, src]
    conf[:, dst] = clean.confidence[:, src]
    rep[:, dst] = clean.repaired[:, src]
    return pos, conf, rep


def make_session(
    clean: CleanRecording,
    parsed: Parsed,
    *,
    path: Path,
    fmt: str,
    file_sha256: str,
    subject: str | None,
    task: str | None,
    status: str,
    repairs: list[str],
    warnings: list[str],
) -> Session:
    pos, conf, rep = to_azure32(clean, parsed.raw.schema)
    subject = subject or default_subject(path)
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    t = pos.shape[0]
    rep_frames = np.flatnonzero(rep.any(axis=1))
    metadata = {
        "source": {"file": path.name, "format": fmt, "sha256": file_sha256, "joint_schema": parsed.raw.schema.name},
        "import": {
            "status": status,
            "repairs": repairs,
            "warnings": warnings,
            "repaired_frames": int(rep_frames.size),
            "repaired_per_joint": [int(x) for x in rep.sum(axis=0)],
            "repaired_frame_ranges": _frame_ranges(rep_frames),
            "source_frames": [int(clean.source_frames[0]), int(clean.source_frames[-1]) + 1],
            "gaitcore_version": __version__,
        },
        **parsed.metadata,
    }
    session_id = hashlib.sha256(f"{file_sha256}|{subject}|{task or ''}".encode()).hexdigest()[:32]
    return Session(
        positions=pos,
        confidence=conf,
        timestamps_us=clean.timestamps_us,
        subject=subject,
        sensor=parsed.sensor,
        tasks=[TaskSegment(task, 0, t)] if task else [],
        metadata=metadata,
        session_id=session_id,
    )


def _frame_ranges(idx: np.ndarray) -> list[list[int]]:
    """[[start, end), ...] runs of consecutive frame indices (compact JSON)."""
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]])) + 1
    return [[int(s), int(e)] for s, e in zip(starts, ends, strict=True)]
