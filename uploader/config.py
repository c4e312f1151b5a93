"""The client's configuration and where it lives on disk.

Everything sits in one folder: ``$GAIT_UPLOAD_HOME`` when set (tests, several clinics on one
machine), else the user's configuration folder (``click.get_app_dir("gait-upload")``: ``~/.config/
gait-upload`` on Linux, ``%APPDATA%\\gait-upload`` on Windows, ``~/Library/Application Support/
gait-upload`` on macOS). It holds ``config.json`` (server, token, retention; mode 0600 because the
token is a secret), ``queue.sqlite3`` (the upload queue) and ``sessions/`` (session files waiting or
kept after upload).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from .errors import NotConfigured

ENV_HOME = "GAIT_UPLOAD_HOME"
CONFIG_NAME = "config.json"


def home() -> Path:
    """The client's folder (created, mode 0700)."""
    explicit = os.environ.get(ENV_HOME, "").strip()
    path = Path(explicit).expanduser() if explicit else Path(click.get_app_dir("gait-upload"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def sessions_dir() -> Path:
    path = home() / "sessions"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def queue_path() -> Path:
    return home() / "queue.sqlite3"


@dataclass
class Config:
    """What ``login`` stores.

    ``keep_days``: how long a session file stays on this machine after the server confirmed it
    (0 = delete at once, -1 = keep forever). ``organisation``: shown to the user, from the server.
    """

    server: str
    token: str
    organisation: str = ""
    keep_days: int = 7

    @property
    def api(self) -> str:
        return self.server.rstrip("/") + "/api/v1"


def config_path() -> Path:
    return home() / CONFIG_NAME


def load() -> Config:
    """The stored configuration, or NotConfigured saying to log in."""
    path = config_path()
    if not path.is_file():
        raise NotConfigured("not logged in", "run: gait-upload login --server URL --token TOKEN")
    try:
        data = json.loads(path.read_text())
        return Config(**{k: data[k] for k in ("server", "token", "organisation", "keep_days") if k in data})
    except (ValueError, TypeError, KeyError) as exc:
        raise NotConfigured(f"the configuration {path} is unreadable ({exc})",
                            "run gait-upload login again") from None


def save(config: Config) -> Path:
    """Write atomically with mode 0600 (created so: the token is never readable by others)."""
    path = config_path()
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX; on Windows the profile folder is already private to the user
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(config), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return path
