"""Joint-name matching: any spelling of a joint (``Foot Left``, ``foot_left``, ``FootLeft``, ``LFoot``,
``Hip-centro``, ``ShouldL`` ...) to its AZURE32 index.

Names are compared through :func:`gaitcore.schemas.normalise_joint_name` (lower case, letters and digits
only), so case, spaces and separators never matter. The table holds the names of the four schemas plus
common synonyms; sided joints accept the side before or after the base name, spelt out or abbreviated
(``left``/``l``/``lt``).
"""

from __future__ import annotations

from functools import lru_cache

from ..schemas import AZURE32, KINECT_V1, KINECT_V2, MODEL26, normalise_joint_name

# sided base names -> (left index, right index) in AZURE32
_SIDED: dict[str, tuple[int, int]] = {
    "clavicle": (4, 11), "collar": (4, 11), "collarbone": (4, 11),
    "shoulder": (5, 12), "should": (5, 12), "shld": (5, 12), "sholder": (5, 12),
    "elbow": (6, 13), "wrist": (7, 14), "hand": (8, 15),
    "handtip": (9, 16), "fingertip": (9, 16), "fingertips": (9, 16), "thumb": (10, 17),
    "hip": (18, 22), "knee": (19, 23), "ankle": (20, 24), "foot": (21, 25), "toe": (21, 25), "toes": (21, 25),
    "eye": (28, 30), "ear": (29, 31),
}  # fmt: skip
_LEFT = ("left", "l", "lt")
_RIGHT = ("right", "r", "rt")
# midline synonyms -> AZURE32 index
_MIDLINE: dict[str, int] = {
    "pelvis": 0, "spinebase": 0, "hipcenter": 0, "hipcentre": 0, "hipcentro": 0, "midhip": 0, "root": 0,
    "hips": 0, "waist": 0,
    "spinenavel": 1, "spinemid": 1, "spine": 1, "navel": 1, "midspine": 1, "torso": 1,
    "spinechest": 2, "spineshoulder": 2, "shouldercenter": 2, "shouldercentre": 2, "chest": 2,
    "upperspine": 2, "thorax": 2, "neckbase": 2,
    "neck": 3, "head": 26, "nose": 27,
}  # fmt: skip


@lru_cache(maxsize=1)
def joint_lookup() -> dict[str, int]:
    """Normalised joint name -> AZURE32 index."""
    table: dict[str, int] = {}
    for key, idx in _MIDLINE.items():
        table[key] = idx
    for base, (li, ri) in _SIDED.items():
        for sides, idx in ((_LEFT, li), (_RIGHT, ri)):
            for s in sides:
                table.setdefault(base + s, idx)
                table.setdefault(s + base, idx)
    for schema in (KINECT_V1, KINECT_V2, MODEL26, AZURE32):  # schema names win over synonyms
        for name, a in zip(schema.joints, schema.to_azure, strict=True):
            if a is not None:
                table[normalise_joint_name(name)] = a
    return table


def match_joint(name: str) -> int | None:
    """AZURE32 index of a joint name in any supported spelling, or None."""
    return joint_lookup().get(normalise_joint_name(name))
