"""The session file format, version 1 (``*.gait.npz``). Documented in docs/session-format.md.

A session file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) read with
``allow_pickle=False``: reading never executes code. It holds

=============  ==========  =========================================================================
member         dtype       content
=============  ==========  =========================================================================
positions      float32     [T, 32, 3] raw joint positions, millimetres, sensor (camera) space,
                           AZURE32 joint order; joints the sensor lacks are 0 with confidence NONE
confidence     uint8       [T, 32] Azure Kinect confidence level (0 NONE, 1 LOW, 2 MEDIUM, 3 HIGH)
timestamps_us  int64       [T] frame timestamps in microseconds, strictly increasing
header         uint8       UTF-8 JSON (see ``SessionHeader``), including ``checksum``
=============  ==========  =========================================================================

``checksum`` is ``sha256:<hex>`` of the three arrays' little-endian bytes followed by the canonical
JSON of the header without its checksum field. A file whose ``format_version`` is newer than
``FORMAT_VERSION`` is refused with a message saying which software version is needed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SessionFormatError
from .schemas import AZURE32, TASKS
from .validation import ABSURD_COORDINATE_MM

FORMAT_NAME = "gait-session"
FORMAT_VERSION = 1
SUFFIX = ".gait.npz"
SENSORS = ("azure_kinect", "kinect_v2", "kinect_v1", "csv", "synthetic")


@dataclass(frozen=True)
class TaskSegment:
    """A protocol task inside a session: frames ``[start, end)``."""

    task: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise SessionFormatError(f"unknown task {self.task!r}; known tasks: {', '.join(TASKS)}")
        if not (0 <= self.start < self.end):
            raise SessionFormatError(f"task {self.task}: bad frame range [{self.start}, {self.end})")


@dataclass
class Session:
    """One recording of one subject: raw 32-joint skeletons plus what is known about them."""

    positions: np.ndarray  # [T, 32, 3] float32, mm
    confidence: np.ndarray  # [T, 32] uint8
    timestamps_us: np.ndarray  # [T] int64
    subject: str
    sensor: str
    tasks: list[TaskSegment] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    session_id: str = ""

    def __post_init__(self) -> None:
        self.positions = np.ascontiguousarray(self.positions, dtype=np.float32)
        self.confidence = np.ascontiguousarray(self.confidence, dtype=np.uint8)
        self.timestamps_us = np.ascontiguousarray(self.timestamps_us, dtype=np.int64)
        t = self.positions.shape[0]
        if self.positions.shape != (t, AZURE32.size, 3):
            raise SessionFormatError(f"positions must be [T, 32, 3], got {list(self.positions.shape)}")
        if self.confidence.shape != (t, AZURE32.size):
            raise SessionFormatError(f"confidence must be [T, 32], got {list(self.confidence.shape)}")
        if self.timestamps_us.shape != (t,):
            raise SessionFormatError(f"timestamps_us must be [T], got {list(self.timestamps_us.shape)}")
        if self.sensor not in SENSORS:
            raise SessionFormatError(f"unknown sensor {self.sensor!r}; known: {', '.join(SENSORS)}")
        for seg in self.tasks:
            if seg.end > t:
                raise SessionFormatError(f"task {seg.task} ends at frame {seg.end} beyond {t} frames")

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration_s(self) -> float:
        if self.n_frames < 2:
            return 0.0
        return float(self.timestamps_us[-1] - self.timestamps_us[0]) / 1e6

    def task(self, name: str) -> Session:
        """The frames of one task as a session of their own (one segment covering it all)."""
        segs = [s for s in self.tasks if s.task == name]
        if not segs:
            raise KeyError(f"session has no task {name!r}; it has {[s.task for s in self.tasks]}")
        s = segs[0]
        return Session(
            self.positions[s.start:s.end], self.confidence[s.start:s.end], self.timestamps_us[s.start:s.end],
            self.subject, self.sensor, [TaskSegment(name, 0, s.end - s.start)], dict(self.metadata),
            self.session_id,
        )

    def header(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "joint_schema": AZURE32.name,
            "units": "mm",
            "session_id": self.session_id,
            "subject": self.subject,
            "sensor": self.sensor,
            "n_frames": self.n_frames,
            "tasks": [asdict(s) for s in self.tasks],
            "metadata": self.metadata,
        }

    def checksum(self) -> str:
        return _checksum(self.positions, self.confidence, self.timestamps_us, self.header())


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _checksum(positions: np.ndarray, confidence: np.ndarray, timestamps: np.ndarray, header: dict) -> str:
    h = hashlib.sha256()
    for arr, dt in ((positions, "<f4"), (confidence, "u1"), (timestamps, "<i8")):
        h.update(np.ascontiguousarray(arr, dtype=dt).tobytes())
    h.update(_canonical({k: v for k, v in header.items() if k != "checksum"}))
    return "sha256:" + h.hexdigest()


def to_bytes(session: Session) -> bytes:
    """Serialise a session (deterministic: same session, same bytes)."""
    header = session.header()
    header["checksum"] = session.checksum()
    members = {
        "positions": session.positions.astype("<f4", copy=False),
        "confidence": session.confidence,
        "timestamps_us": session.timestamps_us.astype("<i8", copy=False),
        "header": np.frombuffer(_canonical(header), dtype=np.uint8),
    }
    buf = io.BytesIO()
    # Written member by member with a fixed timestamp so that identical sessions give identical bytes.
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, arr in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, npy.getvalue())
    return buf.getvalue()


def write_session(session: Session, path: str | os.PathLike) -> Path:
    """Write atomically (temporary file + rename): a crash never leaves half a file."""
    path = Path(path)
    if not path.name.endswith(SUFFIX):
        path = path.with_name(path.name + SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = to_bytes(session)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --- reading: limits checked from the archive's headers before anything is inflated ----------------
MAX_FRAMES = 432_000  # 4 h at 30 Hz (``validation.DEFAULT_MAX_DURATION_S``): ~166 MB of positions
MAX_HEADER_BYTES = 1024 * 1024  # the JSON header
MAX_MEMBERS = 16  # the four members plus room; a zip of thousands of entries is not a session file
MEMBERS = {  # member -> (dtype, shape of T frames)
    "positions.npy": ("<f4", lambda t: (t, AZURE32.size, 3)),
    "confidence.npy": ("|u1", lambda t: (t, AZURE32.size)),
    "timestamps_us.npy": ("<i8", lambda t: (t,)),
}


def from_bytes(data: bytes, *, name: str = "<bytes>", max_frames: int = MAX_FRAMES) -> Session:
    """Parse and verify a session file's bytes. Raises ``SessionFormatError`` with the reason.

    Before inflating anything the archive's own headers are checked: each member's declared size
    (``ZipInfo.file_size``, which bounds what ``zipfile`` will ever inflate) must match the shape and
    dtype in its ``.npy`` header, and the frame count must be within ``max_frames`` (code
    ``too_large``). Then the values: finite coordinates within ``ABSURD_COORDINATE_MM``
    (``non_finite``, ``absurd_coordinates``) and strictly increasing timestamps
    (``non_monotonic_timestamps``)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise SessionFormatError(f"{name}: not a session file (not a zip/npz archive)") from exc
    with zf:
        infos = _check_archive(zf, name, max_frames)
        arrays = {member[:-4]: _read_member(zf, infos[member], name) for member in sorted(infos)}
    header = _parse_header(arrays["header"], name)
    expected = header.get("checksum")
    actual = _checksum(arrays["positions"], arrays["confidence"], arrays["timestamps_us"], header)
    if expected != actual:
        raise SessionFormatError(f"{name}: checksum mismatch (file says {expected}, content is {actual})")
    check_values(arrays["positions"], arrays["timestamps_us"], name)
    try:
        return Session(
            positions=arrays["positions"],
            confidence=arrays["confidence"],
            timestamps_us=arrays["timestamps_us"],
            subject=str(header["subject"]),
            sensor=str(header["sensor"]),
            tasks=[TaskSegment(**t) for t in header.get("tasks", [])],
            metadata=dict(header.get("metadata", {})),
            session_id=str(header.get("session_id", "")),
        )
    except (KeyError, TypeError) as exc:
        raise SessionFormatError(f"{name}: header is missing or has a bad field: {exc}") from exc


def _check_archive(zf: zipfile.ZipFile, name: str, max_frames: int) -> dict[str, zipfile.ZipInfo]:
    """The four members' ZipInfo, after checking their declared sizes against their .npy headers."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise SessionFormatError(f"{name}: not a session file ({len(infos)} archive members)")
    by_name = {i.filename: i for i in infos}
    need = {*MEMBERS, "header.npy"}
    if not need <= set(by_name):
        raise SessionFormatError(f"{name}: not a session file (missing {sorted(need - set(by_name))})")
    frames = None
    for member, (dtype, shape_of) in MEMBERS.items():
        shape, _ = _npy_header(zf, by_name[member], name, dtype)
        t = shape[0] if shape else -1
        if shape != shape_of(t):
            raise SessionFormatError(f"{name}: {member} has shape {list(shape)}, expected {list(shape_of('T'))}")
        if frames is not None and t != frames:
            raise SessionFormatError(f"{name}: {member} has {t} frames, positions.npy has {frames}")
        frames = t
        if t > max_frames:
            inflated = sum(i.file_size for i in infos)
            raise SessionFormatError(
                f"{name}: {t:,} frames ({t / 30 / 3600:.1f} h at 30 Hz, {inflated / 2**20:,.0f} MiB uncompressed); "
                f"the limit is {max_frames:,} frames ({max_frames / 30 / 3600:.1f} h)", code="too_large")
    shape, _ = _npy_header(zf, by_name["header.npy"], name, "|u1")
    if len(shape) != 1 or shape[0] > MAX_HEADER_BYTES:
        raise SessionFormatError(f"{name}: header.npy has shape {list(shape)}, expected at most "
                                 f"[{MAX_HEADER_BYTES}] bytes", code="too_large" if len(shape) == 1 else "invalid_session_file")
    return {m: by_name[m] for m in need}


def _npy_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, dtype: str) -> tuple[tuple, int]:
    """(shape, header length) of a member's .npy header, read by inflating only its first bytes. The
    member's declared uncompressed size must be exactly header + data: nothing hides behind it."""
    member = info.filename
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dt = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dt = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = fh.tell()
    except (ValueError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SessionFormatError(f"{name}: member {member} is corrupt: {exc}") from exc
    if dt.str != dtype or fortran:
        raise SessionFormatError(f"{name}: member {member} is corrupt: dtype {dt.str}"
                                 f"{' (Fortran order)' if fortran else ''}, expected {dtype}")
    size = offset + int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if info.file_size != size:
        raise SessionFormatError(f"{name}: member {member} declares {info.file_size:,} bytes uncompressed, its "
                                 f"array header says {size:,}")
    return tuple(shape), offset


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    """Inflate one checked member (``zipfile`` never yields more than its declared size)."""
    try:
        return np.lib.format.read_array(io.BytesIO(zf.read(info)), allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SessionFormatError(f"{name}: member {info.filename} is corrupt: {exc}") from exc


def _parse_header(raw: np.ndarray, name: str) -> dict:
    try:
        header = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionFormatError(f"{name}: header is not valid JSON") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        fmt = header.get("format") if isinstance(header, dict) else None
        raise SessionFormatError(f"{name}: not a session file (format {fmt!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise SessionFormatError(f"{name}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise SessionFormatError(
            f"{name}: session format version {version} is newer than this software reads "
            f"(up to {FORMAT_VERSION}); upgrade gait-platform to read it"
        )
    return header


def check_values(positions: np.ndarray, timestamps_us: np.ndarray, name: str = "<session>") -> None:
    """Refuse values no recording can have: NaN/inf or coordinates beyond ``ABSURD_COORDINATE_MM``
    (a validated session stores missing joints as 0), and timestamps that do not strictly increase."""
    finite = np.isfinite(positions)
    if not finite.all():
        t, j = np.argwhere(~finite.all(axis=2))[0]
        v = positions[t, j][~finite[t, j]][0]
        raise SessionFormatError(f"{name}: non-finite coordinate ({v}) at frame {t}, joint {AZURE32.joints[j]}; "
                                 "missing joints are stored as 0 with confidence NONE", code="non_finite")
    absurd = np.abs(positions) > ABSURD_COORDINATE_MM
    if absurd.any():
        t, j = np.argwhere(absurd.any(axis=2))[0]
        v = float(np.abs(positions[t, j]).max())
        raise SessionFormatError(f"{name}: coordinate {v:.6g} mm at frame {t}, joint {AZURE32.joints[j]} is beyond "
                                 f"{ABSURD_COORDINATE_MM / 1000:g} m of the sensor", code="absurd_coordinates")
    steps = np.diff(timestamps_us)
    if (steps <= 0).any():
        t = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise SessionFormatError(f"{name}: timestamps must strictly increase; frame {t} is at "
                                 f"{int(timestamps_us[t])} us after {int(timestamps_us[t - 1])} us",
                                 code="non_monotonic_timestamps")


def read_session(path: str | os.PathLike) -> Session:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SessionFormatError(f"{path}: cannot read: {exc.strerror}") from exc
    return from_bytes(data, name=str(path))
