"""Importers: recordings of five formats -> validated canonical :class:`~gaitcore.sessionfile.Session`.

Public API::

    result = read_recording(path, "kinect-v2", subject=None, task=None)
    result.session    # Session: positions [T, 32, 3] float32 mm, confidence [T, 32] uint8, ...
    result.status     # "imported" | "repaired"
    result.repairs    # what was repaired, in words (empty when "imported")
    result.warnings   # what the user should know (bodies in view, unknown CSV columns, units ...)

Rejected recordings raise :class:`~gaitcore.errors.ValidationError` (``.code`` says why, the message names
file, frame and joint); ``azure-mkv`` without the SDK raises :class:`~gaitcore.errors.SDKNotInstalledError`.
:func:`iter_recordings` walks files and folders (recursively) yielding the files of one format.

Formats (``FORMATS``), documented in docs/importers.md:

==============  ================================================================  =========
name            input                                                             sensor
==============  ================================================================  =========
``azure-json``  Azure Kinect Body Tracking ``offline_processor`` JSON             azure_kinect
``azure-mkv``   Azure Kinect ``.mkv`` via pykinect_azure + Body Tracking SDK       azure_kinect
``kinect-v2``   tab-separated ``time_s`` + 25 x ``joint_index x y z`` (m), gzip ok   kinect_v2
``kinect-v1``   ``JointName;x;y;z`` lines, 20 per frame from ``Head`` (m), gzip ok   kinect_v1
``csv``         generic CSV with a joint/axis header                              csv
==============  ================================================================  =========
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ValidationError
from ..sessionfile import SUFFIX, Session
from ..validation import DEFAULT_LIMITS, Limits, validate_recording
from . import azure_json, csv_table, kinect_v1, kinect_v2
from ._common import Parsed, make_session, read_input

__all__ = ["FORMATS", "ImportResult", "Format", "read_recording", "iter_recordings", "FORMAT_INFO"]


@dataclass(frozen=True)
class Format:
    """One input format: its name, the sensor it records, the file names a folder walk picks up."""

    name: str
    sensor: str
    patterns: tuple[str, ...]  # lower-case suffixes
    description: str


FORMAT_INFO: dict[str, Format] = {
    f.name: f
    for f in (
        Format("azure-json", "azure_kinect", (".json", ".json.gz"), "Azure Kinect offline_processor JSON"),
        Format("azure-mkv", "azure_kinect", (".mkv",), "Azure Kinect .mkv (needs the Sensor + Body Tracking SDKs)"),
        Format("kinect-v2", "kinect_v2", (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz"),
               "Kinect v2 tab-separated time_s + 25 x (joint_index x y z), metres"),
        Format("kinect-v1", "kinect_v1", (".txt", ".txt.gz", ".csv", ".csv.gz"),
               "Kinect v1 JointName;x;y;z lines, 20 per frame from Head, metres, 30 Hz"),
        Format("csv", "csv", (".csv", ".csv.gz"), "generic CSV with joint/axis header"),
    )
}
FORMATS: tuple[str, ...] = tuple(FORMAT_INFO)

_PARSERS: dict[str, Callable[[bytes, str], Parsed]] = {
    "azure-json": azure_json.parse,
    "kinect-v2": kinect_v2.parse,
    "kinect-v1": kinect_v1.parse,
    "csv": csv_table.parse,
}


@dataclass
class ImportResult:
    """Outcome of importing one recording."""

    session: Session
    status: str  # "imported" | "repaired"
    repairs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = ""
    format: str = ""


def read_recording(
    path: str | os.PathLike,
    fmt: str,
    *,
    subject: str | None = None,
    task: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ImportResult:
    """Read, validate and repair one recording of format ``fmt`` into a 32-joint session.

    Without ``subject`` the pseudonym is the name of the file's parent folder. With ``task`` the whole
    recording is one segment of that task. Raises ValidationError / SDKNotInstalledError.
    """
    if fmt not in FORMAT_INFO:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    p = Path(path)
    file = str(p)
    if not p.is_file():
        raise ValidationError("no such file", code="not_found", file=file)
    if fmt == "azure-mkv":
        from ..validation import check_file
        from . import azure_mkv  # pykinect_azure only when needed

        check_file(p, limits)
        digest = _sha256_file(p)
        parsed = azure_mkv.parse_path(file, file)
    else:
        data = read_input(p, limits)
        digest = hashlib.sha256(data).hexdigest()
        parsed = _PARSERS[fmt](data, file)
    clean = validate_recording(parsed.raw, limits)
    repairs = parsed.repairs + clean.repairs
    warnings = parsed.warnings + clean.warnings
    status = "repaired" if repairs else "imported"
    session = make_session(
        clean, parsed, path=p, fmt=fmt, file_sha256=digest, subject=subject, task=task,
        status=status, repairs=repairs, warnings=warnings,
    )
    return ImportResult(session, status, repairs, warnings, source=file, format=fmt)


def _sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def iter_recordings(paths: Iterable[str | os.PathLike], fmt: str) -> Iterator[Path]:
    """Files to import: given files as they are; folders searched recursively (sorted) for the format's
    file suffixes, skipping hidden files and session files (``*.gait.npz``)."""
    if fmt not in FORMAT_INFO:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    suffixes = FORMAT_INFO[fmt].patterns
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    low = name.lower()
                    if name.startswith(".") or low.endswith(SUFFIX):
                        continue
                    if low.endswith(suffixes):
                        found.append(Path(root) / name)
            yield from sorted(found)
        else:
            yield p
