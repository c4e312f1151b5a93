"""Small recordings the importer tests write themselves (never read from the real data sets).

``walk(...)`` makes a plausible AZURE32 walk in millimetres (camera-like space, y up, walking along z);
the ``write_*`` helpers write it in each input format.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from gaitcore.schemas import AZURE32, KINECT_V1, KINECT_V2

# standing pose, mm: x to the subject's left, y up, z forward
_TEMPLATE = {
    "PELVIS": (0, 900, 0), "SPINE_NAVEL": (0, 1100, 0), "SPINE_CHEST": (0, 1300, 0), "NECK": (0, 1500, 0),
    "CLAVICLE_LEFT": (40, 1450, 0), "SHOULDER_LEFT": (180, 1420, 0), "ELBOW_LEFT": (200, 1150, 0),
    "WRIST_LEFT": (210, 900, 0), "HAND_LEFT": (215, 820, 0), "HANDTIP_LEFT": (220, 740, 0),
    "THUMB_LEFT": (230, 830, 30),
    "HIP_LEFT": (100, 880, 0), "KNEE_LEFT": (100, 480, 0), "ANKLE_LEFT": (100, 80, 0), "FOOT_LEFT": (100, 30, 150),
    "HEAD": (0, 1650, 0), "NOSE": (0, 1650, 80), "EYE_LEFT": (35, 1680, 60), "EAR_LEFT": (70, 1650, 0),
}  # fmt: skip


def template() -> np.ndarray:
    """[32, 3] standing pose in mm."""
    out = np.zeros((AZURE32.size, 3))
    for i, name in enumerate(AZURE32.joints):
        if name in _TEMPLATE:
            out[i] = _TEMPLATE[name]
        else:
            left = name.replace("RIGHT", "LEFT")
            x, y, z = _TEMPLATE[left]
            out[i] = (-x, y, z)
    return out


def walk(n_frames: int = 120, rate_hz: float = 30.0, speed_mm_s: float = 1000.0, seed: int = 0,
         start_z: float = 1500.0, noise_mm: float = 1.0) -> np.ndarray:
    """[T, 32, 3] mm: walking along +z at ``speed_mm_s``, legs and arms swinging at 1 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / rate_hz
    pos = np.repeat(template()[None], n_frames, axis=0)
    pos[:, :, 2] += start_z + speed_mm_s * t[:, None]
    phase = np.sin(2 * np.pi * 1.0 * t)
    for side, sign in (("LEFT", 1.0), ("RIGHT", -1.0)):
        for j, amp in (("KNEE", 120), ("ANKLE", 250), ("FOOT", 280)):
            pos[:, AZURE32.index(f"{j}_{side}"), 2] += sign * amp * phase
        for j, amp in (("ELBOW", 60), ("WRIST", 120), ("HAND", 130), ("HANDTIP", 140), ("THUMB", 130)):
            pos[:, AZURE32.index(f"{j}_{side}"), 2] -= sign * amp * phase
    pos += rng.normal(0, noise_mm, pos.shape)
    return pos


def timestamps_s(n_frames: int, rate_hz: float = 30.0, t0: float = 12.0) -> np.ndarray:
    return t0 + np.arange(n_frames) / rate_hz


def _open_w(path: Path, gz: bool):
    path.parent.mkdir(parents=True, exist_ok=True)
    return gzip.open(path, "wt") if gz else open(path, "w")


def v2_from_azure(pos32: np.ndarray) -> np.ndarray:
    return pos32[:, list(KINECT_V2.to_azure)]


def v1_from_azure(pos32: np.ndarray) -> np.ndarray:
    return pos32[:, list(KINECT_V1.to_azure)]


def write_kinect_v2(path: Path, pos32_mm: np.ndarray, t_s: np.ndarray | None = None, gz: bool = False,
                    v2_override: np.ndarray | None = None) -> Path:
    """Kinect v2 tab-separated: time_s + 25 x (index x y z), metres."""
    v2 = v2_from_azure(pos32_mm) / 1000.0 if v2_override is None else v2_override
    t_s = timestamps_s(len(v2)) if t_s is None else t_s
    with _open_w(path, gz) as fh:
        for f in range(len(v2)):
            fields = [f"{t_s[f]:.3f}"]
            for j in range(25):
                fields += [f"{float(j)}", *(repr(float(v)) for v in v2[f, j])]
            fh.write("\t".join(fields) + "\n")
    return path


def write_kinect_v1(path: Path, pos32_mm: np.ndarray, gz: bool = False, decimal_comma: bool = False,
                    drop_last_lines: int = 0, frame_without_joint: int | None = None) -> Path:
    """Kinect v1: 'JointName;x;y;z' lines, 20 per frame starting at Head, metres."""
    v1 = v1_from_azure(pos32_mm) / 1000.0
    lines = []
    for f in range(len(v1)):
        for j, name in enumerate(KINECT_V1.joints):
            if frame_without_joint == f and j == 5:
                continue
            vals = [f"{v:.6f}" for v in v1[f, j]]
            if decimal_comma:
                vals = [v.replace(".", ",") for v in vals]
            lines.append(";".join([name, *vals]))
    if drop_last_lines:
        lines = lines[:-drop_last_lines]
    with _open_w(path, gz) as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def write_azure_json(path: Path, bodies: dict[int, tuple[np.ndarray, np.ndarray]], n_frames: int,
                     rate_hz: float = 30.0, joint_count: int = 32) -> Path:
    """offline_processor JSON. ``bodies``: body_id -> (frame indices, [n, 32, 3] mm)."""
    frames = []
    for f in range(n_frames):
        present = []
        for bid, (idx, pos) in bodies.items():
            hit = np.flatnonzero(idx == f)
            if hit.size:
                p = pos[hit[0]][:joint_count]
                present.append({
                    "body_id": bid,
                    "joint_positions": p.tolist(),
                    "joint_orientations": [[1.0, 0.0, 0.0, 0.0]] * len(p),
                })
        frames.append({"timestamp_usec": int(1_000_000 + f * 1e6 / rate_hz), "frame_id": f * 2,
                       "num_bodies": len(present), "bodies": present})
    doc = {"k4abt_sdk_version": "1.1.2", "source_file": "walk.mkv", "joint_names": list(AZURE32.joints),
           "bone_list": [], "frames": frames}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def write_csv(path: Path, pos32_mm: np.ndarray, style: str = "spaced", metres: bool = True,
              extra_columns: dict[str, np.ndarray] | None = None, time_ms: np.ndarray | None = None) -> Path:
    """Generic CSV of the 18 UCalgary-like joints (no hands/face); header ``style``:
    'spaced' ('Foot Left X, Y, Z'), 'snake' ('foot_left_x') or 'dotted' ('SpineBase.x')."""
    joints = ["FOOT_LEFT", "ANKLE_LEFT", "KNEE_LEFT", "HIP_LEFT", "FOOT_RIGHT", "ANKLE_RIGHT", "KNEE_RIGHT",
              "HIP_RIGHT", "PELVIS", "SPINE_NAVEL", "NECK", "HEAD", "SHOULDER_LEFT", "SHOULDER_RIGHT",
              "WRIST_LEFT", "WRIST_RIGHT", "ELBOW_LEFT", "ELBOW_RIGHT"]
    v2name = {AZURE32.joints[a]: n for n, a in zip(KINECT_V2.joints, KINECT_V2.to_azure, strict=True)}
    header, cols = [], []
    if time_ms is not None:
        header.append("time_ms")
        cols.append(time_ms)
    for j in joints:
        idx = AZURE32.index(j)
        nice = v2name[j]  # e.g. FootLeft
        spaced = "".join(" " + c if c.isupper() and k else c for k, c in enumerate(nice))
        for a, ax in enumerate("xyz"):
            if style == "spaced":
                header.append(f"{spaced} {ax.upper()}" if a == 0 else f" {ax.upper()}")
            elif style == "snake":
                header.append(f"{spaced.lower().replace(' ', '_')}_{ax}")
            else:
                header.append(f"{nice}.{ax}")
            cols.append(pos32_mm[:, idx, a] / (1000.0 if metres else 1.0))
    for name, values in (extra_columns or {}).items():
        header.append(name)
        cols.append(values)
    table = np.column_stack(cols)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        np.savetxt(fh, table, delimiter=",", fmt="%.6f")
    return path
