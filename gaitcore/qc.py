"""Quality control of a session, per session, per recorded task and per joint.

Measures (all from the stored session, nothing recomputed from the source file):

* ``fraction_missing``: share of frames where a joint has confidence NONE, over the joints the sensor
  provides (a joint is *provided* when it has confidence > NONE in at least one frame; joints the
  sensor lacks, e.g. the Kinect v2's clavicles, are listed as not provided and left out of the session
  figures);
* ``fraction_low_confidence``: share of frames with confidence LOW (occluded, or interpolated on import);
* ``jitter_mm``: root mean square of the second difference ``p[t+1] - 2 p[t] + p[t-1]`` (mm), over
  triples of consecutive valid frames at the regular frame period. It measures high-frequency noise plus
  true acceleration; at 30 Hz a clean walking recording gives a few mm at the trunk and ~10-30 mm at the
  feet and hands; tracking jitter shows up as much larger values. Session value: median over joints;
* ``repaired_frames``: frames with at least one interpolated or masked joint on import (from the
  session's ``metadata["import"]``), per session and per joint.

Verdicts (one place for the pipeline's validate step and the bench rows):

* session (``session_issues``; the gate: a session with an issue has its results withheld): more than
  half of the joint samples missing; a frame rate off 30 Hz by more than 5 Hz;
* each recorded task (``TaskQC``, frames ``[start, end)`` of its segment, the joints the *session*
  provides): the same missing-samples rule over the task's frames, and a task shorter than
  ``MIN_TASK_S`` (10 s: the preprocessing's shortest model window, ``window // 3`` = 300 frames at
  30 Hz, so a shorter task gets no embedding). A task verdict explains the session's results (which task
  was lost and why); it does not gate the session on its own.

This module imports numpy only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .schemas import AZURE32, Confidence
from .sessionfile import Session


@dataclass
class JointQC:
    joint: str
    provided: bool
    fraction_missing: float
    fraction_low_confidence: float
    jitter_mm: float | None  # None when there are no three consecutive valid frames
    repaired_frames: int


MAX_FRACTION_MISSING = 0.5
MIN_TASK_S = 10.0  # = gaitcore.preprocess.windows' shortest window (900 // 3 frames) at 30 Hz; tested


@dataclass
class TaskQC:
    """QC of one recorded task segment: its figures, ``passed`` and the ``issues`` that failed it."""

    task: str
    start: int
    n_frames: int
    duration_s: float
    fraction_missing: float
    fraction_low_confidence: float
    jitter_mm: float | None
    passed: bool
    issues: list[str] = field(default_factory=list)


@dataclass
class SessionQC:
    session_id: str
    subject: str
    sensor: str
    n_frames: int
    duration_s: float
    frame_rate_hz: float
    joints_provided: int
    fraction_missing: float
    fraction_low_confidence: float
    jitter_mm: float | None
    repaired_frames: int
    import_status: str | None = None
    joints: list[JointQC] = field(default_factory=list)
    tasks: list[TaskQC] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (joints as a list of dicts)."""
        return asdict(self)


def frame_rate_hz(timestamps_us: np.ndarray) -> float:
    """Typical frame rate from the timestamps (median step; 0 for fewer than two frames)."""
    if len(timestamps_us) < 2:
        return 0.0
    step = float(np.median(np.diff(timestamps_us)))
    return 1e6 / step if step > 0 else 0.0


def jitter_per_joint(positions: np.ndarray, valid: np.ndarray, timestamps_us: np.ndarray) -> np.ndarray:
    """[J] second-difference RMS (mm) over consecutive valid triples at the regular period; NaN if none.

    positions [T, J, 3] mm, valid [T, J] bool, timestamps_us [T].
    """
    t, j = valid.shape
    if t < 3:
        return np.full(j, np.nan)
    dt = np.diff(timestamps_us.astype(np.int64))
    med = np.median(dt)
    regular = (dt > 0.5 * med) & (dt < 1.5 * med)  # [T-1]
    ok = valid[2:] & valid[1:-1] & valid[:-2] & (regular[1:] & regular[:-1])[:, None]
    p = positions.astype(np.float64)
    d2 = p[2:] - 2.0 * p[1:-1] + p[:-2]
    sq = np.einsum("tjk,tjk->tj", d2, d2)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sqrt((sq * ok).sum(axis=0) / n), np.nan)


def _missing_issue(fraction: float) -> list[str]:
    return [f"{fraction:.0%} of joint samples are missing"] if fraction > MAX_FRACTION_MISSING else []


def session_issues(qc: SessionQC) -> list[str]:
    """Why the session fails QC ([] = it passes)."""
    issues = _missing_issue(qc.fraction_missing)
    if qc.frame_rate_hz and abs(qc.frame_rate_hz - 30) > 5:
        issues.append(f"frame rate {qc.frame_rate_hz:.1f} Hz (expected 30 Hz)")
    return issues


def task_qc(session: Session, provided: np.ndarray) -> list[TaskQC]:
    """QC of each task segment, in recording order (``provided`` [J]: the joints the session provides)."""
    conf, ts = session.confidence, session.timestamps_us
    rate = frame_rate_hz(ts)
    out = []
    for seg in session.tasks:
        c = conf[seg.start:seg.end][:, provided]
        n = int(c.shape[0])
        valid = c > Confidence.NONE
        missing = float((~valid).mean()) if valid.size else 1.0
        low = float((c == Confidence.LOW).mean()) if c.size else 0.0
        jit = jitter_per_joint(session.positions[seg.start:seg.end][:, provided], valid, ts[seg.start:seg.end])
        jit = jit[np.isfinite(jit)]
        span = (float(ts[seg.end - 1] - ts[seg.start]) / 1e6 if n > 1 else 0.0) + (1.0 / rate if rate else 0.0)
        issues = _missing_issue(missing)
        if span < MIN_TASK_S:
            issues.append(f"{span:.1f} s long, under the {MIN_TASK_S:.0f} s a model window needs")
        out.append(TaskQC(task=seg.task, start=int(seg.start), n_frames=n, duration_s=round(span, 3),
                          fraction_missing=round(missing, 4), fraction_low_confidence=round(low, 4),
                          jitter_mm=round(float(np.median(jit)), 3) if jit.size else None,
                          passed=not issues, issues=issues))
    return out


def session_qc(session: Session) -> SessionQC:
    """QC of one session (see the module docstring for the definitions)."""
    conf = session.confidence
    t = session.n_frames
    valid = conf > Confidence.NONE
    provided = valid.any(axis=0)
    missing = (~valid).mean(axis=0) if t else np.zeros(AZURE32.size)
    low = (conf == Confidence.LOW).mean(axis=0) if t else np.zeros(AZURE32.size)
    jitter = jitter_per_joint(session.positions, valid, session.timestamps_us)
    imp = session.metadata.get("import", {}) if isinstance(session.metadata, dict) else {}
    rep_joint = imp.get("repaired_per_joint") or [0] * AZURE32.size
    joints = [
        JointQC(
            joint=name,
            provided=bool(provided[i]),
            fraction_missing=float(missing[i]) if provided[i] else 1.0,
            fraction_low_confidence=float(low[i]),
            jitter_mm=None if not np.isfinite(jitter[i]) else round(float(jitter[i]), 3),
            repaired_frames=int(rep_joint[i]) if i < len(rep_joint) else 0,
        )
        for i, name in enumerate(AZURE32.joints)
    ]
    pj = jitter[provided & np.isfinite(jitter)]
    return SessionQC(
        session_id=session.session_id,
        subject=session.subject,
        sensor=session.sensor,
        n_frames=t,
        duration_s=round(session.duration_s, 4),
        frame_rate_hz=round(frame_rate_hz(session.timestamps_us), 3),
        joints_provided=int(provided.sum()),
        fraction_missing=float(missing[provided].mean()) if provided.any() else 1.0,
        fraction_low_confidence=float(low[provided].mean()) if provided.any() else 0.0,
        jitter_mm=round(float(np.median(pj)), 3) if pj.size else None,
        repaired_frames=int(imp.get("repaired_frames", 0)),
        import_status=imp.get("status"),
        joints=joints,
        tasks=task_qc(session, provided),
    )
