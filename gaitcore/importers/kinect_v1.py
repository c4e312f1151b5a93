"""Kinect v1 (Xbox 360 SDK) text export: one ``JointName;x;y;z`` line per joint, 20 lines per frame, each
frame starting at ``Head``; metres (converted to mm here); no timestamps (nominal 30 Hz).

Joint names are matched through :mod:`gaitcore.importers.names` (``Hip-centro``, ``HipCenter`` ...). A
decimal comma (``0,123``) is accepted. A truncated last frame is dropped (a repair); any other frame
without exactly the 20 joints is rejected as a wrong joint count naming the frame.
"""

from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ..schemas import KINECT_V1, normalise_joint_name
from ..validation import RawRecording
from ._common import Parsed, decode_text
from .names import match_joint

N_JOINTS = KINECT_V1.size
_AZURE_TO_V1 = {a: i for i, a in enumerate(KINECT_V1.to_azure)}


def _v1_index(name: str) -> int | None:
    a = match_joint(name)
    return _AZURE_TO_V1.get(a) if a is not None else None


def parse(data: bytes, file: str) -> Parsed:
    text = decode_text(data, file)
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise ValidationError("empty file", code="empty", file=file)
    parts = [ln.split(";", 1) for ln in lines]
    if any(len(p) != 2 for p in parts):
        bad = next(i for i, p in enumerate(parts) if len(p) != 2)
        raise ValidationError(
            f"line {bad + 1} is not 'JointName;x;y;z': {lines[bad][:60]!r}", code="parse_error", file=file
        )
    names = [p[0].strip() for p in parts]
    values = [p[1] for p in parts]
    repairs: list[str] = []
    warnings: list[str] = []

    keys = np.array([normalise_joint_name(n) for n in names])
    head = np.flatnonzero(keys == "head")
    if head.size == 0:
        raise ValidationError("no 'Head' line: frames must start at Head", code="parse_error", file=file)
    if head[0] > 0:
        warnings.append(f"ignored {int(head[0])} line(s) before the first Head (a partial frame)")
    starts = head
    lengths = np.diff(np.concatenate((starts, [len(lines)])))
    wrong = np.flatnonzero(lengths != N_JOINTS)
    if wrong.size == 1 and wrong[0] == len(starts) - 1 and lengths[-1] < N_JOINTS and len(starts) > 1:
        repairs.append(f"dropped a truncated last frame (frame {len(starts) - 1}: {lengths[-1]} of {N_JOINTS} joints)")
        starts, lengths = starts[:-1], lengths[:-1]
    elif wrong.size:
        f = int(wrong[0])
        raise ValidationError(
            f"wrong joint count: frame {f} has {lengths[f]} joint lines, Kinect v1 has {N_JOINTS}",
            code="joint_count", file=file, frame=f,
        )
    n_frames = len(starts)
    sel = (starts[:, None] + np.arange(N_JOINTS)[None, :]).ravel()
    numbers = ";".join(values[i] for i in sel)
    vals = _numbers(numbers, file, 3 * len(sel))
    xyz = vals.reshape(n_frames, N_JOINTS, 3)

    # joint order: one permutation if every frame lists the joints in the same order
    frame_keys = keys[sel].reshape(n_frames, N_JOINTS)
    first = frame_keys[0]
    order_idx = [_v1_index(k) for k in first]
    unknown = [names[starts[0] + i] for i, o in enumerate(order_idx) if o is None]
    if unknown:
        raise ValidationError(f"unknown Kinect v1 joint name(s): {', '.join(unknown)}", code="parse_error", file=file, frame=0)
    if sorted(order_idx) != list(range(N_JOINTS)):
        raise ValidationError("frame 0 repeats a joint (needs the 20 Kinect v1 joints once each)",
                              code="joint_count", file=file, frame=0)
    same = (frame_keys == first[None, :]).all(axis=1)
    positions = np.empty_like(xyz)
    if same.all():
        positions[:, order_idx] = xyz
    else:
        positions[same] = 0
        positions[np.ix_(same, order_idx)] = xyz[same]
        for f in np.flatnonzero(~same):
            idx = [_v1_index(k) for k in frame_keys[f]]
            if None in idx or sorted(idx) != list(range(N_JOINTS)):
                raise ValidationError("frame does not hold the 20 Kinect v1 joints once each",
                                      code="joint_count", file=file, frame=int(f))
            positions[f, idx] = xyz[f]
    with np.errstate(over="ignore", invalid="ignore"):
        positions = positions * 1000.0  # metres -> mm
    raw = RawRecording(positions=positions, schema=KINECT_V1, file=file, timestamps_us=None)
    return Parsed(raw=raw, sensor="kinect_v1", warnings=warnings, repairs=repairs,
                  metadata={"kinect_v1": {"frame_rate_hz": 30.0, "timestamps": "none in file, nominal 30 Hz"}})


def _numbers(s: str, file: str, expected: int) -> np.ndarray:
    """Parse ';'-separated numbers (decimal point or decimal comma) into float64."""
    for candidate in (s, s.replace(",", ".")):
        try:
            arr = np.array(candidate.replace(";", " ").split(), dtype=np.float64)
        except ValueError:
            continue
        if arr.size == expected:
            return arr
    raise ValidationError("coordinates are not three numbers per joint line ('JointName;x;y;z')",
                          code="parse_error", file=file)
