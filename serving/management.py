"""Model versions through TorchServe's management API: register, make default, roll back, unregister.

``register`` loads an archive (a path inside the model store, or a URL) as ``<name>/<version>`` with
its batching (``batch_size``, ``max_batch_delay``) and workers, synchronously (returns when the workers
are up). ``set_default`` makes a version the one ``/predictions/<name>`` answers. ``rollback`` makes the
previous default the default again: the history of defaults is kept in a small JSON file next to the
server's config (TorchServe itself does not remember it), or pass the version explicitly.

With a ``state_file`` (``<run dir>/served.json``; ``python -m serving`` passes it), every register,
set-default and unregister is recorded there, and :func:`restore` registers the same versions with the
same settings and default again: ``serving start`` calls it, so a restarted inference server serves what
it served before (TorchServe runs with ``--ncs``: it keeps no snapshot of its own).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from .client import read_token


class ManagementError(RuntimeError):
    pass


class ManagementClient:
    def __init__(self, url: str, token_file: str | None = None, history_file: str | Path | None = None,
                 timeout: float = 180.0, state_file: str | Path | None = None):
        self.url = url.rstrip("/")
        self.token_file = token_file
        self.history_file = Path(history_file) if history_file else None
        self.state_file = Path(state_file) if state_file else None
        self.timeout = timeout

    def _req(self, method: str, path: str, **kw) -> dict | list:
        headers = {}
        token = read_token(self.token_file, "management") if self.token_file and Path(self.token_file).exists() else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = requests.request(method, self.url + path, headers=headers, timeout=self.timeout, **kw)
        if r.status_code >= 300:
            raise ManagementError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        try:
            return r.json()
        except ValueError:
            return {"status": r.text}

    # -- queries
    def models(self) -> list[dict]:
        return self._req("GET", "/models").get("models", [])

    def versions(self, name: str) -> list[dict]:
        """Every registered version of ``name`` (TorchServe's describe output, one dict per version)."""
        try:
            return self._req("GET", f"/models/{name}/all")
        except ManagementError as exc:
            if " 404 " in str(exc):
                return []
            raise

    def default_version(self, name: str) -> str | None:
        try:
            desc = self._req("GET", f"/models/{name}")
        except ManagementError:
            return None
        return desc[0].get("modelVersion") if desc else None

    # -- changes
    def register(self, archive: str, *, model_name: str | None = None, batch_size: int = 8, max_batch_delay_ms: int = 20, workers: int = 1,
                 response_timeout: int = 120, version: str | None = None) -> dict:
        """``version``: the version the archive carries (recorded in the state file for restore)."""
        out = self._req("POST", "/models", params={
            "url": archive, **({"model_name": model_name} if model_name else {}), "batch_size": batch_size, "max_batch_delay": max_batch_delay_ms,
            "initial_workers": workers, "synchronous": "true", "response_timeout": response_timeout})
        if self.state_file is not None and model_name and version:
            state = self._state()
            state["models"].setdefault(model_name, {})[version] = {
                "archive": archive, "batch_size": batch_size, "max_batch_delay_ms": max_batch_delay_ms,
                "workers": workers, "response_timeout": response_timeout}
            self._save_state(state)
        return out

    def set_default(self, name: str, version: str) -> dict:
        previous = self.default_version(name)
        out = self._req("PUT", f"/models/{name}/{version}/set-default")
        if self.state_file is not None:
            state = self._state()
            state["default"][name] = version
            self._save_state(state)
        if self.history_file is not None and previous != version:
            hist = self._history()
            hist.setdefault(name, []).append({"version": version, "previous": previous, "at": time.time()})
            self.history_file.write_text(json.dumps(hist, indent=1))
        return out

    def rollback(self, name: str, to_version: str | None = None) -> str:
        """Make ``to_version`` (default: the version that was default before the current one) the default."""
        if to_version is None:
            current = self.default_version(name)
            entries = [e for e in self._history().get(name, []) if e["version"] == current and e["previous"]]
            if not entries:
                raise ManagementError(f"no recorded previous default for {name} (current {current}); "
                                      "pass the version to roll back to")
            to_version = entries[-1]["previous"]
        self.set_default(name, to_version)
        return to_version

    def unregister(self, name: str, version: str) -> dict:
        out = self._req("DELETE", f"/models/{name}/{version}")
        if self.state_file is not None:
            state = self._state()
            state["models"].get(name, {}).pop(version, None)
            if state["default"].get(name) == version:
                state["default"].pop(name)
            self._save_state(state)
        return out

    def restore(self) -> list[str]:
        """Register every version of the state file that the server does not have, then its defaults."""
        state = self._state()
        done = []
        for name, versions in state["models"].items():
            have = {v.get("modelVersion") for v in self.versions(name)}
            for version, o in versions.items():
                if version in have:
                    continue
                self._req("POST", "/models", params={
                    "url": o["archive"], "model_name": name, "batch_size": o["batch_size"],
                    "max_batch_delay": o["max_batch_delay_ms"], "initial_workers": o["workers"],
                    "synchronous": "true", "response_timeout": o.get("response_timeout", 120)})
                done.append(f"{name}/{version}")
        for name, version in state["default"].items():
            self._req("PUT", f"/models/{name}/{version}/set-default")
        return done

    def _state(self) -> dict:
        if self.state_file is None or not self.state_file.exists():
            return {"models": {}, "default": {}}
        return json.loads(self.state_file.read_text())

    def _save_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_file)

    def scale(self, name: str, version: str, workers: int) -> dict:
        return self._req("PUT", f"/models/{name}/{version}", params={"min_worker": workers, "max_worker": workers,
                                                                      "synchronous": "true"})

    def _history(self) -> dict:
        if self.history_file is None or not self.history_file.exists():
            return {}
        return json.loads(self.history_file.read_text())
