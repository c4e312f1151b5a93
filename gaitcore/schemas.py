"""Joint schemas as data: the sensors we read, the canonical storage schema and the model's schema.

Canonical storage is the Azure Kinect Body Tracking schema (32 joints, ``AZURE32``). Every other
sensor is mapped *into* it; a joint the sensor lacks is stored with confidence ``NONE`` (and zero
position) and is masked downstream. The model sees ``MODEL26``: the 32 joints minus the six hand
joints (HAND, HANDTIP, THUMB on each side), as in the GaitMAE paper.

This module imports numpy only.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

import numpy as np


class Confidence(enum.IntEnum):
    """Azure Kinect joint confidence levels (``k4abt_joint_confidence_level_t``)."""

    NONE = 0  # joint out of range / not provided by the sensor
    LOW = 1  # predicted (occluded) joint
    MEDIUM = 2  # the SDK's current maximum
    HIGH = 3  # reserved by the SDK, unused


@dataclass(frozen=True)
class JointSchema:
    """A named, ordered joint set with its kinematic tree and its mapping into ``AZURE32``."""

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]  # parent index per joint, -1 for the root
    to_azure: tuple[int | None, ...] = field(default=())  # index into AZURE32, None if no equivalent
    units: str = "mm"

    def __post_init__(self) -> None:
        n = len(self.joints)
        if len(self.parents) != n:
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {n} joints")
        if self.to_azure and len(self.to_azure) != n:
            raise ValueError(f"{self.name}: {len(self.to_azure)} mappings for {n} joints")

    @property
    def size(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    def indices(self, joints: tuple[str, ...] | list[str]) -> list[int]:
        return [self.index(j) for j in joints]


# --- Azure Kinect Body Tracking: 32 joints, millimetres, depth-camera space -----------------------
_AZURE_JOINTS = (
    "PELVIS", "SPINE_NAVEL", "SPINE_CHEST", "NECK",
    "CLAVICLE_LEFT", "SHOULDER_LEFT", "ELBOW_LEFT", "WRIST_LEFT", "HAND_LEFT", "HANDTIP_LEFT", "THUMB_LEFT",
    "CLAVICLE_RIGHT", "SHOULDER_RIGHT", "ELBOW_RIGHT", "WRIST_RIGHT", "HAND_RIGHT", "HANDTIP_RIGHT",
    "THUMB_RIGHT",
    "HIP_LEFT", "KNEE_LEFT", "ANKLE_LEFT", "FOOT_LEFT",
    "HIP_RIGHT", "KNEE_RIGHT", "ANKLE_RIGHT", "FOOT_RIGHT",
    "HEAD", "NOSE", "EYE_LEFT", "EAR_LEFT", "EYE_RIGHT", "EAR_RIGHT",
)  # fmt: skip
_AZURE_PARENTS = (
    -1, 0, 1, 2,
    2, 4, 5, 6, 7, 8, 7,
    2, 11, 12, 13, 14, 15, 14,
    0, 18, 19, 20,
    0, 22, 23, 24,
    3, 26, 26, 26, 26, 26,
)  # fmt: skip
AZURE32 = JointSchema("azure_kinect_32", _AZURE_JOINTS, _AZURE_PARENTS, tuple(range(32)), "mm")

HAND_JOINTS = ("HAND_LEFT", "HANDTIP_LEFT", "THUMB_LEFT", "HAND_RIGHT", "HANDTIP_RIGHT", "THUMB_RIGHT")

# --- The model's 26 joints: AZURE32 minus the hands ----------------------------------------------
MODEL26_FROM_AZURE: tuple[int, ...] = tuple(i for i, j in enumerate(_AZURE_JOINTS) if j not in HAND_JOINTS)


def _reparent(keep: tuple[int, ...]) -> tuple[int, ...]:
    """Parents within a subset of AZURE32, climbing past dropped joints."""
    pos = {a: i for i, a in enumerate(keep)}
    out = []
    for a in keep:
        p = _AZURE_PARENTS[a]
        while p != -1 and p not in pos:
            p = _AZURE_PARENTS[p]
        out.append(pos[p] if p != -1 else -1)
    return tuple(out)


MODEL26 = JointSchema(
    "model_26",
    tuple(_AZURE_JOINTS[i] for i in MODEL26_FROM_AZURE),
    _reparent(MODEL26_FROM_AZURE),
    MODEL26_FROM_AZURE,
    "normalised",
)

# --- Kinect v2: 25 joints, metres ------------------------------------------------------------------
_V2_JOINTS = (
    "SpineBase", "SpineMid", "Neck", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
    "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)  # fmt: skip
_V2_PARENTS = (
    -1, 0, 20, 2,
    20, 4, 5, 6,
    20, 8, 9, 10,
    0, 12, 13, 14,
    0, 16, 17, 18,
    1, 7, 6, 11, 10,
)  # fmt: skip
_V2_TO_AZURE = (
    0, 1, 3, 26,
    5, 6, 7, 8,
    12, 13, 14, 15,
    18, 19, 20, 21,
    22, 23, 24, 25,
    2, 9, 10, 16, 17,
)  # fmt: skip
KINECT_V2 = JointSchema("kinect_v2_25", _V2_JOINTS, _V2_PARENTS, _V2_TO_AZURE, "m")

# --- Kinect v1 (Xbox 360 SDK): 20 joints, metres; names as in the common text export -------------
_V1_JOINTS = (
    "Head", "Shoulder-Center", "Shoulder-Right", "Shoulder-Left", "Elbow-Right", "Elbow-Left",
    "Wrist-Right", "Wrist-Left", "Hand-Right", "Hand-Left", "Spine", "Hip-centro",
    "Hip-Right", "Hip-Left", "Knee-Right", "Knee-Left", "Ankle-Right", "Ankle-Left",
    "Foot-Right", "Foot-Left",
)  # fmt: skip
_V1_PARENTS = (
    1, 10, 1, 1, 2, 3,
    4, 5, 6, 7, 11, -1,
    11, 11, 12, 13, 14, 15,
    16, 17,
)  # fmt: skip
# ShoulderCenter is the v1 ancestor of v2's SpineShoulder -> SPINE_CHEST; HipCenter -> PELVIS.
_V1_TO_AZURE = (
    26, 2, 12, 5, 13, 6,
    14, 7, 15, 8, 1, 0,
    22, 18, 23, 19, 24, 20,
    25, 21,
)  # fmt: skip
KINECT_V1 = JointSchema("kinect_v1_20", _V1_JOINTS, _V1_PARENTS, _V1_TO_AZURE, "m")

SCHEMAS: dict[str, JointSchema] = {s.name: s for s in (AZURE32, MODEL26, KINECT_V2, KINECT_V1)}

# --- Groups (in AZURE32 joint names) ---------------------------------------------------------------
# The paper's six body-part masking groups: legs, arms and torso 4 joints each, head 6 (26 in all).
MASKING_GROUPS: dict[str, tuple[str, ...]] = {
    "left_leg": ("HIP_LEFT", "KNEE_LEFT", "ANKLE_LEFT", "FOOT_LEFT"),
    "right_leg": ("HIP_RIGHT", "KNEE_RIGHT", "ANKLE_RIGHT", "FOOT_RIGHT"),
    "left_arm": ("CLAVICLE_LEFT", "SHOULDER_LEFT", "ELBOW_LEFT", "WRIST_LEFT"),
    "right_arm": ("CLAVICLE_RIGHT", "SHOULDER_RIGHT", "ELBOW_RIGHT", "WRIST_RIGHT"),
    "torso": ("PELVIS", "SPINE_NAVEL", "SPINE_CHEST", "NECK"),
    "head": ("HEAD", "NOSE", "EYE_LEFT", "EAR_LEFT", "EYE_RIGHT", "EAR_RIGHT"),
}
# The four embedding regions (joints averaged inside each before temporal pooling).
EMBEDDING_REGIONS: dict[str, tuple[str, ...]] = {
    "legs": MASKING_GROUPS["left_leg"] + MASKING_GROUPS["right_leg"],
    "arms": MASKING_GROUPS["left_arm"] + MASKING_GROUPS["right_arm"],
    "torso": MASKING_GROUPS["torso"],
    "head": MASKING_GROUPS["head"],
}


def group_indices(groups: dict[str, tuple[str, ...]], schema: JointSchema = MODEL26) -> dict[str, list[int]]:
    """Indices of each group's joints in ``schema`` (MODEL26 by default)."""
    return {g: schema.indices(js) for g, js in groups.items()}


def mirror_index(schema: JointSchema = AZURE32) -> np.ndarray:
    """Permutation that swaps left and right joints (identity for midline joints)."""
    perm = np.arange(schema.size)
    for i, name in enumerate(schema.joints):
        for a, b in (("LEFT", "RIGHT"), ("Left", "Right"), ("-Left", "-Right")):
            if a in name:
                other = name.replace(a, b)
                if other in schema.joints:
                    perm[i] = schema.index(other)
            elif b in name:
                other = name.replace(b, a)
                if other in schema.joints:
                    perm[i] = schema.index(other)
    return perm


def normalise_joint_name(name: str) -> str:
    """Case-, space- and separator-insensitive key of a joint name: ``Foot Left`` -> ``footleft``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


# --- Tasks of the protocol -------------------------------------------------------------------------
TASKS: tuple[str, ...] = (
    "treadmill_3kmh",
    "treadmill_self_selected",
    "walk_in_place",
    "sit_to_stand",
    "romberg_eyes_closed",
    "overground_walk",
)
# how a task reads on pages and reports
TASK_LABELS: dict[str, str] = {
    "treadmill_3kmh": "Treadmill, 3 km/h",
    "treadmill_self_selected": "Treadmill, own speed",
    "walk_in_place": "Walking in place",
    "sit_to_stand": "Sit to stand",
    "romberg_eyes_closed": "Romberg, eyes closed",
    "overground_walk": "Overground walk",
}
FRAME_RATE_HZ = 30.0
