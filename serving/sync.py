"""Keep one TorchServe process serving the served set (``serving.served``): the pod's sync sidecar.

    python -m serving sync --pointer URL --run-dir /srv/serve --port 8380 --interval 10
    python -m serving sync-check --run-dir /srv/serve [--live]     # the sidecar's probes

Each pass reads the pointer and, through the **loopback** management API (``serving.management``):
downloads a listed archive missing from the pod's model store (SHA-256 and the archive's own model
version checked; written as ``.part`` then renamed), registers each listed version TorchServe does not
serve (synchronously: it returns when the version's workers are up), makes the pointer's default the
default, then unregisters every version the pointer no longer lists (never the current default) and
deletes its archive. Every change is logged; so is a pass that could not read the pointer or reach
TorchServe: the pod then keeps serving what it has, and the next pass tries again. A version that fails
(bad checksum, archive missing, register refused) is logged and skipped; the others go on.

After each pass (and after each registration, which can take a while) the sidecar writes
``<run dir>/sync-status.json``: the last default the pointer named (kept while the pointer is
unreadable), the default TorchServe serves, what it registered, the errors and the time. ``sync-check``
is the readiness gate: ready only when the status is fresh and TorchServe serves the pointer's default
(no pointer object at all: when TorchServe serves some default); ``--live`` checks freshness only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import zipfile
from pathlib import Path

from .archive import archive_name

log = logging.getLogger("serving.sync")

STATUS_FILE = "sync-status.json"
STALE_AFTER_S = 600.0  # a status older than this: the loop is stuck (a pass that registers can take minutes)


def status_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / STATUS_FILE


class Syncer:
    """One TorchServe (``mgmt``: its management client) made to serve the pointer's set."""

    def __init__(self, pointer: str, mgmt, run_dir: str | Path, model_name: str = "gaitmae", batch_size: int = 8,
                 max_batch_delay_ms: int = 20, workers: int = 1, response_timeout: int = 120):
        from .served import pointer_store

        self.pointer = pointer
        self.store, self.key = pointer_store(pointer)
        self.mgmt = mgmt
        self.run_dir = Path(run_dir)
        self.model_store = self.run_dir / "model-store"
        self.model_name = model_name
        self.register_kw = {"batch_size": batch_size, "max_batch_delay_ms": max_batch_delay_ms, "workers": workers,
                            "response_timeout": response_timeout}
        self.known: dict | None = None  # the last served set read (kept while the pointer is unreadable)
        self.pointer_seen = False  # a pass read the pointer (or learnt there is none)

    # -- one pass
    def run_once(self) -> dict:
        from .served import read

        report: dict = {"pointer": self.pointer, "actions": [], "errors": []}
        fresh = False
        try:
            served = read(self.store, self.key)
        except Exception as exc:  # noqa: BLE001 - storage down, access denied, torn or foreign object: keep serving
            report["errors"].append(f"pointer unreadable, serving what this pod has: {exc}")
            log.warning("sync: pointer %s unreadable, keeping what is served: %s", self.pointer, exc)
        else:
            if served is None and (self.known is not None or not self.pointer_seen):  # said once, not every pass
                log.info("sync: no served set at %s yet: serving what this pod loaded at start", self.pointer)
            self.pointer_seen, self.known, fresh = True, served, True
        if self.pointer_seen:
            try:
                if fresh and self.known is not None:
                    self._reconcile(self.known, report)
                else:  # no served set, or unreadable now: change nothing, say what is served
                    self._observe(report)
            except Exception as exc:  # noqa: BLE001 - TorchServe not up yet / restarting: next pass
                report["errors"].append(f"TorchServe management: {exc}")
                log.warning("sync: cannot reach TorchServe's management API: %s", exc)
        self._write_status(report)
        return report

    def _observe(self, report: dict) -> None:
        report["registered"] = sorted(v for v in self._registered() if v)
        report["served_default"] = self.mgmt.default_version(self.model_name) if report["registered"] else None

    def _registered(self) -> set[str]:
        return {v.get("modelVersion") for v in self.mgmt.versions(self.model_name)}

    def _reconcile(self, served: dict, report: dict) -> None:
        name = self.model_name
        if served.get("model", name) != name:
            report["errors"].append(f"the served set is of model {served.get('model')!r}, this pod serves {name!r}")
            log.error("sync: %s", report["errors"][-1])
            self._observe(report)
            return
        registered = self._registered()
        report["served_default"] = self.mgmt.default_version(name) if registered else None
        report["registered"] = sorted(v for v in registered if v)
        for version, entry in sorted(served["versions"].items()):
            if version in registered:
                continue
            try:
                path = self._fetch(version, entry)
                self.mgmt.register(path.name, model_name=name, version=version, **self.register_kw)
            except Exception as exc:  # noqa: BLE001 - this version only; the others go on
                report["errors"].append(f"{version}: {exc}")
                log.error("sync: could not serve %s/%s: %s", name, version, exc)
                continue
            registered.add(version)
            report["actions"].append(f"registered {version}")
            log.info("sync: registered %s/%s (%s)", name, version, entry["archive"])
            self._write_status(report | {"partial": True})
        current = self.mgmt.default_version(name)
        want = served.get("default")
        if want and want != current:
            if want in registered:
                self.mgmt.set_default(name, want)
                report["actions"].append(f"default {current} -> {want}")
                log.info("sync: default of %s: %s -> %s", name, current, want)
                current = want
            else:
                report["errors"].append(f"default {want} is not registered here")
        for version in sorted(registered - set(served["versions"]) - {current}):
            try:
                self.mgmt.unregister(name, version)
            except Exception as exc:  # noqa: BLE001
                report["errors"].append(f"unregister {version}: {exc}")
                log.error("sync: could not unregister %s/%s: %s", name, version, exc)
                continue
            (self.model_store / archive_name(name, version)).unlink(missing_ok=True)
            report["actions"].append(f"unregistered {version}")
            log.info("sync: unregistered %s/%s (no longer in the served set)", name, version)
        report["served_default"] = current
        report["registered"] = sorted(v for v in registered if v)

    def _fetch(self, version: str, entry: dict) -> Path:
        """The archive in the model store, downloaded unless a file with the recorded SHA-256 is there."""
        self.model_store.mkdir(parents=True, exist_ok=True)
        target = self.model_store / archive_name(self.model_name, version)
        want = entry.get("sha256")
        if target.exists() and want and hashlib.sha256(target.read_bytes()).hexdigest() == want:
            return target
        data = self.store.get(entry["archive"])
        if data is None:
            raise FileNotFoundError(f"{self.store.url}/{entry['archive']} does not exist")
        got = hashlib.sha256(data).hexdigest()
        if want and got != want:
            raise ValueError(f"{entry['archive']} has SHA-256 {got}, the served set records {want}")
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(data)
        try:
            with zipfile.ZipFile(tmp) as z:
                meta = json.loads(z.read("MAR-INF/MANIFEST.json"))["model"]
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            raise ValueError(f"{entry['archive']} is not a model archive ({exc})") from exc
        if (meta.get("modelName"), meta.get("modelVersion")) != (self.model_name, version):
            tmp.unlink(missing_ok=True)
            raise ValueError(f"{entry['archive']} holds {meta.get('modelName')}/{meta.get('modelVersion')}, "
                             f"not {self.model_name}/{version}")
        os.replace(tmp, target)
        return target

    def _write_status(self, report: dict) -> None:
        known = self.known
        status = {"at": time.time(), "pointer_seen": self.pointer_seen, "pointer_exists": known is not None,
                  "pointer_default": known.get("default") if known else None,
                  "pointer_versions": sorted(known["versions"]) if known else [],
                  "served_default": report.get("served_default"), "registered": report.get("registered", []),
                  "actions": report["actions"], "errors": report["errors"]}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = status_path(self.run_dir)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(status, indent=1))
        os.replace(tmp, path)

    # -- the loop
    def loop(self, interval: float, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        log.info("sync: following %s every %.0f s", self.pointer, interval)
        while not stop.is_set():
            started = time.monotonic()
            report = self.run_once()
            if report["actions"] or report["errors"]:
                log.info("sync pass: %s", json.dumps({k: report.get(k) for k in
                                                     ("actions", "errors", "served_default")}))
            stop.wait(max(0.0, interval - (time.monotonic() - started)))


def check(run_dir: str | Path, live_only: bool = False, stale_after_s: float = STALE_AFTER_S) -> tuple[bool, str]:
    """(ok, why) of the sidecar's status: fresh, and (unless ``live_only``) serving the pointer's default."""
    path = status_path(run_dir)
    try:
        st = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return False, f"no sync status yet ({exc})"
    age = time.time() - float(st.get("at", 0))
    if age > stale_after_s:
        return False, f"sync status is {age:.0f} s old: the loop is stuck"
    if live_only:
        return True, "alive"
    if not st.get("pointer_seen"):
        return False, "the served-set pointer was never read"
    served, want = st.get("served_default"), st.get("pointer_default")
    if not st.get("pointer_exists"):
        return (bool(served), f"no served set; serving {served}" if served else "no served set and no default")
    if want is None:
        return (bool(served), f"the served set names no default; serving {served}")
    if served != want:
        return False, f"serving {served}, the served set's default is {want}"
    return True, f"serving the default {want}"
