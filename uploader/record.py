"""The guided recording: protocol, countdown, capture, and a session file written task by task.

The recorder adds the session to the queue as ``recording`` before the first task and rewrites the
session file (atomically: temporary file + rename) after **each** finished task with every task so
far, so a crash or power cut loses at most the task in progress; the queue item then stays
``recording`` with the saved tasks and ``gait-upload queue --retry ID`` queues them. When the whole
protocol is done the item becomes ``queued``.

Per frame the recorder keeps one body: the one it followed so far, else the nearest to the camera.
Frames without a body are dropped (the session's timestamps show the gap).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .errors import DeviceError
from .queue import QUEUED, RECORDING, Queue


@dataclass(frozen=True)
class ProtocolTask:
    task: str  # a gaitcore.schemas.TASKS name
    duration_s: float
    instruction: str


PROTOCOLS: dict[str, tuple[ProtocolTask, ...]] = {
    # The Human Phenotype Project's station (docs/science.md#protocol): the five tasks used by the model.
    "hpp": (
        ProtocolTask("treadmill_3kmh", 180.0, "Treadmill at 3 km/h: walk normally, arms relaxed, look ahead."),
        ProtocolTask("treadmill_self_selected", 60.0, "Treadmill at your own comfortable speed."),
        ProtocolTask("walk_in_place", 60.0, "Walk in place facing the camera."),
        ProtocolTask("sit_to_stand", 30.0, "Stand up and sit down as often as you can, arms crossed."),
        ProtocolTask("romberg_eyes_closed", 30.0, "Stand still, feet together, eyes closed."),
    ),
}


@dataclass
class FrameStats:
    """What the display shows while a task records."""

    task: str
    elapsed_s: float
    duration_s: float
    frames: int
    fps: float
    body_tracked: bool
    bodies: int


class RecorderUI:
    """Callbacks of the recorder (the CLI draws them with rich; tests use this silent base)."""

    def announce(self, index: int, total: int, task: ProtocolTask, duration_s: float) -> None: ...
    def countdown(self, seconds_left: int) -> None: ...
    def frame(self, stats: FrameStats) -> None: ...
    def task_saved(self, task: str, frames: int, path: Path) -> None: ...


def session_filename(subject: str, when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", subject)[:60] or "subject"
    return f"{safe}_{when:%Y%m%dT%H%M%S%f}Z.gait.npz"


class Recorder:
    """Runs a protocol on a frame source and writes the session file task by task."""

    def __init__(self, source, *, subject: str, protocol: str, queue: Queue, out_dir: Path,
                 duration_scale: float = 1.0, countdown_s: int = 3, ui: RecorderUI | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
        self.source = source
        self.subject = subject
        self.protocol = protocol
        self.queue = queue
        self.out_dir = Path(out_dir)
        self.duration_scale = duration_scale
        self.countdown_s = countdown_s
        self.ui = ui or RecorderUI()
        self.sleep = sleep
        self.path = self.out_dir / session_filename(subject)
        self.item = None
        self._pos: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []
        self._ts: list[np.ndarray] = []
        self._segments: list[tuple[str, int, int]] = []
        self._started = datetime.now(UTC)

    def run(self):
        """Record every task; returns the queue item (``queued``)."""
        tasks = PROTOCOLS[self.protocol]
        self.item = self.queue.add(self.path, self.subject, tasks=[], state=RECORDING,
                                   source="simulate" if self.source.sensor == "synthetic" else "record")
        self.source.open()
        try:
            for i, pt in enumerate(tasks):
                duration = max(1.0, pt.duration_s * self.duration_scale)
                self.ui.announce(i, len(tasks), pt, duration)
                for left in range(self.countdown_s, 0, -1):
                    self.ui.countdown(left)
                    self.sleep(1.0)
                self._record_task(pt.task, duration)
                self._save()
                self.ui.task_saved(pt.task, self._segments[-1][2] - self._segments[-1][1], self.path)
        finally:
            self.source.close()
        return self.queue.transition(self.item.id, QUEUED)

    def _record_task(self, task: str, duration_s: float) -> None:
        pos, conf, ts = [], [], []
        followed: int | None = None
        t0 = None
        last_ts = self._ts[-1][-1] if self._ts else None
        recent: list[float] = []
        frames = 0
        last_draw = 0.0
        for stamp, bodies in self.source.stream(task, duration_s):
            now = time.monotonic()
            frames += 1
            recent = [t for t in recent if now - t < 1.0] + [now]
            if t0 is None:
                t0 = stamp
            elapsed = (stamp - t0) / 1e6
            body = _choose(bodies, followed)
            if body is not None and (last_ts is None or stamp > last_ts):
                followed = body[0]
                arr = body[1]
                pos.append(arr[:, :3].astype(np.float32))
                conf.append(np.clip(np.rint(arr[:, 7]), 0, 3).astype(np.uint8))
                ts.append(stamp)
                last_ts = stamp
            if now - last_draw >= 0.1:
                last_draw = now
                span = recent[-1] - recent[0]
                fps = (len(recent) - 1) / span if span > 0 else 0.0
                self.ui.frame(FrameStats(task, elapsed, duration_s, len(pos), fps, body is not None, len(bodies)))
            if elapsed >= duration_s:
                break
        if len(pos) < 2:
            raise DeviceError(f"no body was tracked during {task} ({frames} frames received)",
                              "make sure the person is fully in view, 1.5-4 m from the camera, and record again")
        start = sum(len(t) for t in self._ts)
        self._pos.append(np.stack(pos))
        self._conf.append(np.stack(conf))
        self._ts.append(np.asarray(ts, np.int64))
        self._segments.append((task, start, start + len(ts)))

    def _save(self) -> None:
        from gaitcore.sessionfile import Session, TaskSegment, write_session

        from . import __version__
        from .client import file_sha256

        session = Session(
            np.concatenate(self._pos), np.concatenate(self._conf), np.concatenate(self._ts),
            self.subject, self.source.sensor, [TaskSegment(*s) for s in self._segments],
            {"recorder": f"gait-upload {__version__}", "protocol": self.protocol,
             "duration_scale": self.duration_scale, "recorded_at": self._started.isoformat(),
             "device": self.source.describe()},
            self.path.name.removesuffix(".gait.npz"),
        )
        write_session(session, self.path)
        self.queue.update(self.item.id, tasks=[s[0] for s in self._segments], size=self.path.stat().st_size,
                          sha256=file_sha256(self.path))


def _choose(bodies: list[tuple[int, np.ndarray]], followed: int | None) -> tuple[int, np.ndarray] | None:
    """The followed body if still in view, else the one nearest to the camera (pelvis depth)."""
    if not bodies:
        return None
    for b in bodies:
        if b[0] == followed:
            return b
    return min(bodies, key=lambda b: float(b[1][0, 2]) if np.isfinite(b[1][0, 2]) else np.inf)
