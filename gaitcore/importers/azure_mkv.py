"""Azure Kinect ``.mkv`` recordings, through pykinect_azure playback + the Body Tracking SDK.

Needs, on this machine: the Python package ``pykinect_azure`` (0.0.4, installed with ``--no-deps``), the
Azure Kinect Sensor SDK (``libk4a`` / ``libk4arecord`` 1.4.x, or ``k4a.dll`` on Windows) and the Azure Kinect
Body Tracking SDK (``libk4abt`` 1.1.x). pykinect_azure calls ``sys.exit(1)`` when a native library is
missing or a call fails: we check for the libraries first and turn any ``SystemExit`` into
:class:`~gaitcore.errors.SDKNotInstalledError` (or a ``ValidationError`` for a recording it cannot read).

pykinect_azure is imported lazily, only here. ``body.numpy()`` gives [32, 8] = x, y, z (mm), qw, qx, qy,
qz, confidence; the SDK's confidence levels are kept as they are.

Test seam: :func:`iter_body_frames` (yields ``(timestamp_us, [(body_id, array[32, 8]), ...])``);
:func:`body_to_array` converts a pykinect_azure ``Body``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator

import numpy as np

from ..errors import SDKNotInstalledError, ValidationError
from ..schemas import AZURE32
from ..validation import RawRecording
from ._bodies import BodyTrack, choose_body
from ._common import Parsed

SDK_HELP = (
    "reading Azure Kinect .mkv recordings needs the Azure Kinect Sensor SDK (libk4a and libk4arecord 1.4.x) "
    "and the Azure Kinect Body Tracking SDK (libk4abt 1.1.x) installed on this machine, plus the Python "
    "package pykinect_azure (pip install --no-deps pykinect_azure==0.0.4 opencv-python-headless). "
    "Install the SDKs from Microsoft (learn.microsoft.com/azure/kinect-dk: 'Download the Sensor SDK' and "
    "'Download the Body Tracking SDK'), or convert the recording with the Body Tracking SDK's "
    "offline_processor and import the JSON with --format azure-json"
)


def load_sdk():
    """Import pykinect_azure and initialise its native libraries, or raise SDKNotInstalledError."""
    try:
        import pykinect_azure as pykinect
        from pykinect_azure.utils import get_k4a_module_path, get_k4abt_module_path, get_k4arecord_module_path
    except ImportError as exc:
        raise SDKNotInstalledError(f"pykinect_azure is not importable ({exc}); {SDK_HELP}") from exc
    try:
        k4a = get_k4a_module_path()
        libs = {"Azure Kinect Sensor SDK (k4a)": k4a,
                "Azure Kinect Sensor SDK (k4arecord)": get_k4arecord_module_path(k4a),
                "Azure Kinect Body Tracking SDK (k4abt)": get_k4abt_module_path()}
    except SystemExit as exc:
        raise SDKNotInstalledError(f"Azure Kinect SDK not found; {SDK_HELP}") from exc
    missing = []
    for what, lib in libs.items():
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append(f"{what}: {lib}")
    if missing:
        raise SDKNotInstalledError(f"not installed: {'; '.join(missing)}. {SDK_HELP}")
    try:
        pykinect.initialize_libraries(track_body=True)
    except SystemExit as exc:
        raise SDKNotInstalledError(f"pykinect_azure could not load the Azure Kinect libraries; {SDK_HELP}") from exc
    return pykinect


def body_to_array(body) -> tuple[int, np.ndarray]:
    """(body id, [32, 8] float64: x, y, z mm, qw, qx, qy, qz, confidence) of a pykinect_azure ``Body``."""
    arr = np.asarray(body.numpy(), dtype=np.float64)
    if arr.shape != (AZURE32.size, 8):
        raise ValueError(f"body.numpy() has shape {arr.shape}, expected (32, 8)")
    handle = body.handle()
    return int(getattr(handle, "id", 0)), arr


def iter_body_frames(path: str) -> Iterator[tuple[int, list[tuple[int, np.ndarray]]]]:
    """Play the recording back through the body tracker: (device timestamp us, bodies) per capture."""
    pykinect = load_sdk()
    try:
        playback = pykinect.start_playback(str(path))
        tracker = pykinect.start_body_tracker(calibration=playback.get_calibration())
        while True:
            ok, capture = playback.update()
            if not ok:
                break
            frame = tracker.update(capture=capture)
            ts = int(frame.get_device_timestamp_usec())
            yield ts, [body_to_array(b) for b in frame.get_bodies()]
    except SystemExit as exc:
        raise ValidationError("the Azure Kinect SDK could not read this recording (see the message above)",
                              code="parse_error", file=str(path)) from exc


def parse_path(path: str, file: str) -> Parsed:
    timestamps: list[int] = []
    per_body: dict[int, tuple[list[int], list[np.ndarray]]] = {}
    for f, (ts, bodies) in enumerate(iter_body_frames(path)):
        timestamps.append(ts)
        for body_id, arr in bodies:
            ids, rows = per_body.setdefault(body_id, ([], []))
            ids.append(f)
            rows.append(arr)
    if not timestamps:
        raise ValidationError("empty recording: no capture in the file", code="empty", file=file)
    if not per_body:
        raise ValidationError("empty recording: no body was tracked in any frame", code="empty", file=file)
    tracks = []
    for body_id, (ids, rows) in per_body.items():
        a = np.stack(rows)  # [n, 32, 8]
        conf = np.clip(np.rint(a[:, :, 7]), 0, 3).astype(np.uint8)
        tracks.append(BodyTrack(body_id, np.array(ids), a[:, :, :3], conf))
    kept, msg = choose_body(tracks, len(timestamps))
    warnings = [msg] if msg else []
    if len(kept.frames) < len(timestamps):
        warnings.append(f"body {kept.body_id} absent from {len(timestamps) - len(kept.frames)} of "
                        f"{len(timestamps)} frames: those frames are dropped")
    ts = np.asarray(timestamps, np.int64)[kept.frames]
    # joints the SDK reports with confidence NONE are missing values
    pos = kept.positions.copy()
    pos[kept.confidence == 0] = np.nan
    raw = RawRecording(positions=pos, schema=AZURE32, file=file, timestamps_us=ts, confidence=kept.confidence)
    meta = {"azure_kinect": {"body_id": kept.body_id, "bodies_in_view": len(tracks), "source": "mkv playback"}}
    return Parsed(raw=raw, sensor="azure_kinect", warnings=warnings, metadata=meta)
