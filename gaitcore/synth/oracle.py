"""The generator's own description of a synthetic session: an "oracle" representation for ceilings.

A synthetic skeleton is made from three things: the subject's movement parameters
(:func:`subject.movement_params`: cadence, step length, stance, step width, arm swing, trunk lean, ...,
chair-stand rate, Romberg sway), the subject's body (:func:`anthropometry.make_body`: segment lengths,
widths, belly) and noise that carries nothing about the person (stride-to-stride variation, the camera
pose, sensor jitter and artefacts). Whatever any representation of the skeleton knows about a phenotype,
it learned from the first two. A table of exactly those numbers is therefore the best a skeleton
representation could do with a linear read-out (approximately: a representation may also linearise a
relation that is not linear in these numbers, e.g. stride-time CV rising only after 55).

``oracle_rows`` recomputes them from the cohort's seed with the generator's own seeded streams
(``cohort.rng_for``), so they are exactly the values the session file was generated from.
Layouts: ``all`` = one row per session (task ``all``) with every number; ``tasks`` = one row per
protocol task with the numbers that task's movement is made from (plus the body), so that a per-task
ensemble sees what each task shows.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from .anthropometry import make_body
from .cohort import PROTOCOL_TASKS, rng_for, subject_at_visit
from .subject import movement_params

WALK_TASKS = ("treadmill_3kmh", "treadmill_self_selected", "walk_in_place", "overground_walk")
_PER_TASK = ("cadence", "step_length", "stance", "speed")
_COMMON = ("step_width", "arm_swing", "trunk_sway", "trunk_lean", "neck_flex", "stride_cv", "asymmetry",
           "knee_gain", "foot_prog", "thoracic_flex", "hip_ext_loss", "pelvis_tilt", "pushoff_loss")
_POSTURE = ("thoracic_flex", "pelvis_tilt")  # what the non-walking tasks show of the ageing posture


def body_numbers(body) -> dict[str, float]:
    """Segment dimensions of a body (mm) as the skeleton shows them."""
    out = {f"body_{k}": float(getattr(body, k)) for k in
           ("height_mm", "thigh", "shank", "upper_arm", "forearm", "hip_half_width", "neck_head", "belly")}
    out.update({f"body_spine_{i}": float(v) for i, v in enumerate(body.spine)})
    out["body_shoulder_width"] = float(body.shoulder[0]) + float(body.clavicle[0])
    return out


def session_numbers(seed: int, index: int, visit: int = 0, longitudinal_share: float = 0.5) -> dict[str, dict]:
    """Per task (and ``subject``) the generator's parameters of subject ``index`` at ``visit``."""
    subj, _ = subject_at_visit(seed, index, visit, longitudinal_share)
    body = make_body(subj.height, subj.male, subj.bmi, rng_for(seed, index, "body"))
    mp = movement_params(subj, rng_for(seed, index, "movement", visit))
    out: dict[str, dict] = {}
    for task in WALK_TASKS:
        gp = asdict(mp[task])
        gp["speed"] = mp[task].speed
        out[task] = {k: float(gp[k]) for k in _PER_TASK + _COMMON}
    out["sit_to_stand"] = {"sts_reps_per_30s": float(mp["sts_reps_per_30s"]), "thoracic_flex": float(mp["thoracic_flex"])}
    out["romberg_eyes_closed"] = {"log_romberg_sway_ap_mm": math.log(float(mp["romberg_sway_ap_mm"])),
                                  **{k: float(mp[k]) for k in _POSTURE}}
    out["body"] = body_numbers(body)
    return out


def oracle_rows(seed: int, index: int, visit: int = 0, layout: str = "all", tasks=PROTOCOL_TASKS,
                longitudinal_share: float = 0.5) -> list[dict]:
    """Rows (``session_id, subject, task`` + numbers) of one session, in the probe's table layout."""
    if layout not in ("all", "tasks"):
        raise ValueError(f"layout must be 'all' or 'tasks', not {layout!r}")
    nums = session_numbers(seed, index, visit, longitudinal_share)
    sid = subject_at_visit(seed, index, visit, longitudinal_share)[0].subject_id
    ids = {"session_id": f"{sid}_v{visit}", "subject": sid}  # as cohort.build_session names them
    if layout == "tasks":
        return [{**ids, "task": t, **nums[t], **nums["body"]} for t in tasks]
    row = {**ids, "task": "all", **nums["body"]}
    row.update({f"{c}": v for c, v in nums["treadmill_3kmh"].items() if c in _COMMON})
    for t in WALK_TASKS:
        if t in tasks or t == "overground_walk":
            row.update({f"{t}:{c}": nums[t][c] for c in _PER_TASK})
    for t in ("sit_to_stand", "romberg_eyes_closed"):
        if t in tasks:
            row.update({k: v for k, v in nums[t].items() if k not in _COMMON})
    return [row]


__all__ = ["oracle_rows", "session_numbers", "body_numbers"]
