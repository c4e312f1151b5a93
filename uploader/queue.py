"""The on-disk upload queue: one SQLite row per session file, with its state.

States and the only transitions allowed (:data:`TRANSITIONS`)::

    recording --> queued --> uploading --> uploaded
        |            |           |  ^
        |            |           v  |  (network / 5xx: stays 'uploading', resumed by the next push)
        |            +------> rejected  (4xx: invalid file, unknown subject ...; never retried)
        |                        |
        +--> queued  <-----------+  (`gait-upload queue --retry ID`: a new upload)

* ``recording``: the recorder is writing the file task by task; a crash leaves it here with the tasks
  finished so far (``gait-upload queue --retry ID`` queues what was saved).
* ``queued``: complete, waiting for ``push``.
* ``uploading``: an upload exists on the server (``upload_id``); ``push`` resumes it from the server's
  offset, whatever happened to this process or machine in between.
* ``uploaded``: the server confirmed size and SHA-256 and created ``server_session``; the local file is
  deleted when the retention allows (``file_deleted``).
* ``rejected``: the server refused it with a 4xx; ``error`` says why.

Every write is its own transaction (SQLite WAL, ``synchronous=FULL``), so a kill at any moment leaves
the queue consistent.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

RECORDING, QUEUED, UPLOADING, UPLOADED, REJECTED = "recording", "queued", "uploading", "uploaded", "rejected"
STATES = (RECORDING, QUEUED, UPLOADING, UPLOADED, REJECTED)
TRANSITIONS: dict[str, set[str]] = {
    RECORDING: {RECORDING, QUEUED},
    QUEUED: {UPLOADING, REJECTED},
    UPLOADING: {UPLOADING, UPLOADED, REJECTED},
    UPLOADED: set(),
    REJECTED: {QUEUED},
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    path            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    tasks           TEXT NOT NULL DEFAULT '[]',
    source          TEXT NOT NULL DEFAULT '',
    size            INTEGER NOT NULL DEFAULT 0,
    sha256          TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    upload_id       TEXT NOT NULL DEFAULT '',
    offset          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    error_code      TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    server_session  TEXT NOT NULL DEFAULT '',
    file_deleted    INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    uploaded_at     REAL
);
CREATE INDEX IF NOT EXISTS items_state ON items (state);
"""


class InvalidTransition(ValueError):
    """A state change the state machine does not allow."""


@dataclass
class Item:
    """One queued session file."""

    id: int
    path: str
    subject: str
    tasks: list[str]
    source: str
    size: int
    sha256: str
    state: str
    idempotency_key: str
    upload_id: str
    offset: int
    attempts: int
    error_code: str
    error: str
    server_session: str
    file_deleted: bool
    created_at: float
    updated_at: float
    uploaded_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Item:
        d = dict(row)
        d["tasks"] = json.loads(d["tasks"])
        d["file_deleted"] = bool(d["file_deleted"])
        return cls(**d)


class Queue:
    """The queue in one SQLite file (opened per command; safe against a kill at any point)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- reads ------------------------------------------------------------------------------------
    def get(self, item_id: int) -> Item:
        row = self.db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise KeyError(f"no queue item {item_id}")
        return Item.from_row(row)

    def list(self, states: tuple[str, ...] = STATES, limit: int | None = None) -> list[Item]:
        marks = ",".join("?" * len(states))
        # Placeholders only:
        sql = f"SELECT * FROM items WHERE state IN ({marks}) ORDER BY id"  # nosec B608
        rows = self.db.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), states).fetchall()
        return [Item.from_row(r) for r in rows]

    def pending(self) -> list[Item]:
        """What ``push`` sends: unfinished uploads first (they hold server resources), then queued."""
        return self.list((UPLOADING,)) + self.list((QUEUED,))

    # --- writes -----------------------------------------------------------------------------------
    def add(self, path: str | Path, subject: str, *, tasks: list[str], size: int = 0, sha256: str = "",
            source: str = "", state: str = QUEUED) -> Item:
        """A new item (``queued``, or ``recording`` while the recorder is still writing it)."""
        if state not in (QUEUED, RECORDING):
            raise InvalidTransition(f"a new item starts as queued or recording, not {state}")
        now = time.time()
        cur = self.db.execute(
            "INSERT INTO items (path, subject, tasks, source, size, sha256, state, idempotency_key, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(path), subject, json.dumps(list(tasks)), source, int(size), sha256, state, _new_key(), now, now))
        return self.get(cur.lastrowid)

    def transition(self, item_id: int, state: str, **fields) -> Item:
        """Move an item to ``state`` (checked against :data:`TRANSITIONS`) and update ``fields``."""
        if state not in STATES:
            raise InvalidTransition(f"unknown state {state!r}")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT state FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise KeyError(f"no queue item {item_id}")
            if state not in TRANSITIONS[row["state"]]:
                raise InvalidTransition(f"item {item_id} is {row['state']}; it cannot become {state}")
            self._update(item_id, state=state, **fields)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.get(item_id)

    def update(self, item_id: int, **fields) -> Item:
        """Change fields without a state change (offset progress, file details)."""
        if "state" in fields:
            raise InvalidTransition("use transition() to change the state")
        self._update(item_id, **fields)
        return self.get(item_id)

    def retry(self, item_id: int) -> Item:
        """Queue a rejected item (or an interrupted recording) again, as a new upload."""
        return self.transition(item_id, QUEUED, upload_id="", offset=0, error="", error_code="",
                               idempotency_key=_new_key())

    def remove(self, item_id: int) -> None:
        self.db.execute("DELETE FROM items WHERE id = ?", (item_id,))

    def _update(self, item_id: int, **fields) -> None:
        if not fields:
            return
        if "tasks" in fields:
            fields["tasks"] = json.dumps(list(fields["tasks"]))
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        # Column names are the code's, values bound:
        self.db.execute(f"UPDATE items SET {cols} WHERE id = ?", (*fields.values(), item_id))  # nosec B608


def _new_key() -> str:
    return f"gait-upload-{uuid.uuid4()}"
