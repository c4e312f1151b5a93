"""Small valid session files for upload tests and scripts (no Django needed)."""

from __future__ import annotations

import hashlib

import numpy as np


def session_file_bytes(n_frames: int = 90, subject: str = "S-1", seed: int = 0, tasks=("walk_in_place",)) -> bytes:
    """A small valid ``.gait.npz`` session file (random but well-formed skeletons)."""
    from gaitcore.schemas import TASKS
    from gaitcore.sessionfile import Session, TaskSegment, to_bytes

    tasks = [t if t in TASKS else TASKS[0] for t in tasks]
    rng = np.random.default_rng(seed)
    positions = rng.normal(0, 300, size=(n_frames, 32, 3)).astype(np.float32)
    positions[:, :, 2] += 2500
    confidence = np.full((n_frames, 32), 2, dtype=np.uint8)
    ts = (np.arange(n_frames, dtype=np.int64) * 33_333)
    per = n_frames // len(tasks)
    segs = [TaskSegment(t, i * per, (i + 1) * per) for i, t in enumerate(tasks)]
    return to_bytes(Session(positions, confidence, ts, subject=subject, sensor="synthetic", tasks=segs))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bad_session_file_bytes(case: str, n_frames: int = 90) -> bytes:
    """A well-formed, correctly checksummed session file holding values no recording can have:
    ``nan``, ``inf``, ``huge`` (1e30 mm) or ``decreasing`` timestamps."""
    from gaitcore.sessionfile import Session, TaskSegment, to_bytes

    rng = np.random.default_rng(0)
    positions = rng.normal(0, 300, size=(n_frames, 32, 3)).astype(np.float32)
    positions[:, :, 2] += 2500
    ts = np.arange(n_frames, dtype=np.int64) * 33_333
    if case == "nan":
        positions[40, 5, 1] = np.nan
    elif case == "inf":
        positions[40, 5, 1] = np.inf
    elif case == "huge":
        positions[40, 5, 1] = 1e30
    elif case == "decreasing":
        ts[40] = ts[38]
    else:
        raise ValueError(case)
    conf = np.full((n_frames, 32), 2, dtype=np.uint8)
    return to_bytes(Session(positions, conf, ts, subject="S-1", sensor="synthetic",
                            tasks=[TaskSegment("walk_in_place", 0, n_frames)]))


def zip_bomb_bytes(n_frames: int = 1_398_101) -> bytes:
    """A session file whose arrays are zeros that inflate to ~565 MiB (positions alone 512 MiB for the
    default 1,398,101 frames) from ~0.6 MB, with a correct CRC: the attack of issue 28. Built without
    holding the inflated bytes: each member's DEFLATE stream is made of identical fully flushed blocks of
    1 MiB of zeros, written into a plain (non-ZIP64) archive by hand."""
    import io
    import json
    import struct
    import zlib

    def npy_header(dtype: str, shape: tuple) -> bytes:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
        return buf.getvalue()

    block = 1 << 20
    zero = bytes(block)

    def deflate(prefix: bytes, n_zero: int) -> tuple[bytes, int, int]:
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH)
        full, rest = divmod(n_zero, block)
        one = comp.compress(zero) + comp.flush(zlib.Z_FULL_FLUSH)  # history reset: every block the same
        tail = comp.compress(zero[:rest]) + comp.flush(zlib.Z_FINISH)
        crc = zlib.crc32(prefix)
        for _ in range(full):
            crc = zlib.crc32(zero, crc)
        crc = zlib.crc32(zero[:rest], crc)
        return head + one * full + tail, crc, len(prefix) + n_zero

    header = json.dumps({"format": "gait-session", "format_version": 1, "subject": "S-1", "sensor": "synthetic",
                         "n_frames": n_frames, "tasks": [], "metadata": {}}).encode()
    members = []
    for name, dtype, shape in (("positions.npy", "<f4", (n_frames, 32, 3)), ("confidence.npy", "|u1", (n_frames, 32)),
                               ("timestamps_us.npy", "<i8", (n_frames,))):
        members.append((name, *deflate(npy_header(dtype, shape), int(np.prod(shape)) * np.dtype(dtype).itemsize)))
    hdr = npy_header("|u1", (len(header),)) + header
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    members.append(("header.npy", comp.compress(hdr) + comp.flush(), zlib.crc32(hdr), len(hdr)))
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, crc, size in members:
        offset, fname = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(fname), 0))
        out.write(fname + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                                  len(fname), 0, 0, 0, 0, 0, offset) + fname)
    cd = central.getvalue()
    out.write(cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), out.tell(), 0))
    return out.getvalue()
