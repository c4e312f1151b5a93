"""Model data: session files -> preprocessed 900-frame windows -> training crops, split by subject.

A thin adapter over :mod:`gaitcore.preprocess` (which gives the model input and windows): it adds the
per-frame scale of every window (to report errors in mm), a header-only subject reader, the
subject-level split and the training stream. Numpy only (torch tensors are built by the trainer).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..preprocess import PREPROCESSING_VERSION, preprocess
from ..preprocess.windows import DEFAULT_WINDOW, stack_windows
from ..sessionfile import SUFFIX, Session, read_session


@dataclass
class WindowSet:
    """Windows of one or more sessions.

    x [W, L, 26, 4] float32 model input; observed [W, L, 26] bool (sensor data present; False for
    missing joints and padding); scale_mm [W, L] float32 (mm per normalised unit, 0 on padding);
    n_valid [W] int; rows: per window (session_id, subject, task, index within the task).
    """

    x: np.ndarray
    observed: np.ndarray
    scale_mm: np.ndarray
    n_valid: np.ndarray
    rows: list[tuple[str, str, str, int]] = field(default_factory=list)
    preprocessing: str = PREPROCESSING_VERSION

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @staticmethod
    def concat(sets: list[WindowSet]) -> WindowSet:
        sets = [s for s in sets if len(s)]
        if not sets:
            return WindowSet(np.zeros((0, DEFAULT_WINDOW, 26, 4), np.float32), np.zeros((0, DEFAULT_WINDOW, 26), bool),
                             np.zeros((0, DEFAULT_WINDOW), np.float32), np.zeros(0, np.int64), [])
        return WindowSet(np.concatenate([s.x for s in sets]), np.concatenate([s.observed for s in sets]),
                         np.concatenate([s.scale_mm for s in sets]), np.concatenate([s.n_valid for s in sets]),
                         [r for s in sets for r in s.rows])


def session_windows(session: Session, *, window: int = DEFAULT_WINDOW, min_last: int | None = None) -> WindowSet:
    """Preprocess a session and stack its model windows (all tasks; padding frames unobserved)."""
    pre = preprocess(session, window=window, min_last=min_last)
    xs, ms = stack_windows(pre.model_input, pre.mask, pre.windows, window)
    scale = np.zeros((len(pre.windows), window), np.float32)
    rows, per_task = [], {}
    for i, w in enumerate(pre.windows):
        scale[i, : w.n_valid] = pre.scale_mm[w.start : w.start + w.n_valid]
        k = per_task.get(w.task, 0)
        per_task[w.task] = k + 1
        rows.append((pre.session_id, pre.subject, w.task, k))
    n_valid = np.array([w.n_valid for w in pre.windows], dtype=np.int64)
    return WindowSet(xs, ms, scale, n_valid, rows, pre.version)


# --- finding and reading sources -------------------------------------------------------------------
def input_files(paths: Iterable[str | os.PathLike], fmt: str | None = None) -> list[Path]:
    """The recordings a command reads: session files by default, or files of an importer ``fmt``."""
    if fmt:
        from ..importers import iter_recordings

        return list(iter_recordings(paths, fmt))
    return find_sessions(paths)


def find_sessions(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Session files (``*.gait.npz``): files as given, folders searched recursively; sorted, unique."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob(f"*{SUFFIX}") if not q.name.startswith(".")))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return list(dict.fromkeys(out))


def session_header(path: str | os.PathLike) -> dict:
    """The JSON header of a session file without loading its arrays (for subject-level splits)."""
    with np.load(path, allow_pickle=False) as z:
        return json.loads(bytes(z["header"]).decode("utf-8"))


def load_source(path: str | os.PathLike, fmt: str | None = None) -> Session:
    """A session from a session file, or from a recording of importer format ``fmt``."""
    p = Path(path)
    if fmt is None or p.name.endswith(SUFFIX):
        return read_session(p)
    from ..importers import read_recording

    return read_recording(p, fmt).session


def data_fingerprint(files: Iterable[str | os.PathLike]) -> str:
    """``sha256:<hex>`` over the sorted (session id, session checksum) pairs of the files' headers:
    identifies exactly which sessions a model saw (independent of paths and file order)."""
    pairs = sorted((h.get("session_id", ""), h.get("checksum", "")) for h in map(session_header, files))
    return "sha256:" + hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


# --- subject-level split ---------------------------------------------------------------------------
def is_validation_subject(subject: str, val_fraction: float, seed: int = 0) -> bool:
    """Stable hash split: a subject's side depends only on (seed, subject), never on the file list."""
    h = hashlib.sha256(f"gaitmae-split:{seed}:{subject}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < val_fraction


@dataclass
class Split:
    train: list[Path]
    val: list[Path]
    train_subjects: list[str]
    val_subjects: list[str]
    sessions: dict[str, str]  # file -> session id

    def summary(self) -> dict:
        return {"train_subjects": self.train_subjects, "val_subjects": self.val_subjects,
                "train_sessions": len(self.train), "val_sessions": len(self.val)}


def split_sessions(files: list[Path], val_fraction: float, seed: int = 0) -> Split:
    train, val, ts, vs, ids = [], [], set(), set(), {}
    for f in files:
        h = session_header(f)
        subj = h.get("subject", "")
        ids[str(f)] = h.get("session_id", "")
        if is_validation_subject(subj, val_fraction, seed):
            val.append(f)
            vs.add(subj)
        else:
            train.append(f)
            ts.add(subj)
    return Split(train, val, sorted(ts), sorted(vs), ids)


# --- training stream -------------------------------------------------------------------------------
def random_crop(ws: WindowSet, i: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random ``length``-frame crop of window i inside its valid frames: (x [L, 26, 4], observed [L, 26])."""
    n = int(ws.n_valid[i])
    if n <= length:
        x = np.zeros((length,) + ws.x.shape[2:], np.float32)
        o = np.zeros((length,) + ws.observed.shape[2:], bool)
        x[:n], o[:n] = ws.x[i, :n], ws.observed[i, :n]
        return x, o
    s = int(rng.integers(0, n - length + 1))
    return ws.x[i, s : s + length], ws.observed[i, s : s + length]


def crop_stream(files: list[Path], length: int, *, seed: int, rank: int = 0, world: int = 1,
                crops_per_window: int = 1, buffer: int = 64, epoch0: int = 0
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless stream of training crops (x [L, 26, 4], observed [L, 26]) streamed from session files.

    Every epoch the files are shuffled (seeded by seed and epoch) and this rank reads every
    ``world``-th one; each session is preprocessed when read (nothing is cached), every window yields
    ``crops_per_window`` random crops, and a shuffle buffer mixes crops across sessions.
    """
    rng = np.random.default_rng([seed, rank, epoch0])
    buf: list[tuple[np.ndarray, np.ndarray]] = []
    epoch = epoch0
    mine_any = False
    while True:
        order = np.random.default_rng([seed, epoch]).permutation(len(files))
        mine = [files[j] for j in order[rank::world]]
        if not mine and not mine_any:
            raise ValueError(f"rank {rank} of {world} has no training sessions ({len(files)} files)")
        for f in mine:
            ws = session_windows(read_session(f))
            mine_any = mine_any or len(ws) > 0
            for i in range(len(ws)):
                for _ in range(crops_per_window):
                    buf.append(random_crop(ws, i, length, rng))
            while len(buf) >= buffer:
                yield buf.pop(int(rng.integers(len(buf))))
        epoch += 1
        if not mine_any:
            raise ValueError("no training windows in the given sessions")
