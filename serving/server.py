"""Start, stop and query a TorchServe instance that lives entirely in one run directory.

Layout of ``run_dir``: ``config.properties``, ``model-store/``, ``logs/`` (TorchServe writes ``./logs``:
the process runs with ``run_dir`` as its working directory), ``tmp/`` (TEMP/TMPDIR: TorchServe's own
``.model_server.pid`` goes there, so several instances can run on one machine with distinct run dirs
and ports), ``serve.pid`` (our pid file: the process group we started) and, with token authorisation,
TorchServe's ``key_file.json``.

The environment of the server gets ``OMP_NUM_THREADS=1`` (more threads stall under load on 2 cores)
and ``PYTHONPATH`` with this repository so the handler imports ``serving`` and ``gaitcore``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from .config import ServeConfig

REPO = Path(__file__).resolve().parents[1]


class ServeError(RuntimeError):
    """TorchServe could not be started or stopped."""


def java_available() -> str | None:
    return shutil.which("java")


def _pid_file(run_dir: Path) -> Path:
    return Path(run_dir) / "serve.pid"


def read_pid(run_dir: str | Path) -> int | None:
    try:
        pid = int(_pid_file(Path(run_dir)).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def state_file(run_dir: str | Path) -> Path:
    """What the instance of ``run_dir`` serves (``serving.management``: register / default / unregister)."""
    return Path(run_dir) / "served.json"


def start(cfg: ServeConfig, models: list[str] | None = None, wait_s: float = 90.0, restore: bool = True
          ) -> subprocess.Popen:
    """Start TorchServe in the foreground of a new process group; wait until /ping answers; then register
    again the model versions (and defaults) it served before (``served.json``), unless ``restore=False``."""
    if not java_available():
        raise ServeError("TorchServe needs Java 17 (the `java` command was not found): install a JDK, "
                         "e.g. `apt-get install openjdk-17-jre-headless`")
    run_dir = Path(cfg.run_dir)
    if read_pid(run_dir):
        raise ServeError(f"a TorchServe of {run_dir} is already running (pid {read_pid(run_dir)})")
    for sub in ("model-store", "logs", "tmp"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    conf = cfg.write()
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TEMP": str(run_dir / "tmp"),
                "TMPDIR": str(run_dir / "tmp"), "LOG_LOCATION": str(run_dir / "logs"),
                "METRICS_LOCATION": str(run_dir / "logs"),
                "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)})
    exe = Path(sys.executable).with_name("torchserve")
    cmd = [str(exe) if exe.exists() else "torchserve", "--start", "--foreground", "--ncs",
           "--ts-config", str(conf), "--model-store", str(cfg.model_store), "--enable-model-api"]
    if not cfg.token_auth:
        cmd.append("--disable-token-auth")
    if models:
        cmd += ["--models", *models]
    log = open(run_dir / "logs" / "torchserve.out", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    _pid_file(run_dir).write_text(str(proc.pid))
    key_file = str(cfg.key_file) if cfg.token_auth else None
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _pid_file(run_dir).unlink(missing_ok=True)
            raise ServeError(f"TorchServe exited with code {proc.returncode}; see {run_dir / 'logs'}")
        if ping(cfg.inference_url, token_file=key_file) and _management_up(cfg.management_url, key_file):
            if restore and state_file(run_dir).exists():
                from .management import ManagementClient

                ManagementClient(cfg.management_url, token_file=key_file, state_file=state_file(run_dir)).restore()
            return proc
        time.sleep(0.25)
    stop(run_dir)
    raise ServeError(f"TorchServe did not answer /ping within {wait_s:.0f} s; see {run_dir / 'logs'}")


def ping(inference_url: str, timeout: float = 1.0, token_file: str | None = None) -> bool:
    """/ping answers 200 (with token authorisation on, only with the inference key)."""
    from .client import read_token

    headers = {}
    try:
        token = read_token(token_file) if token_file else None
    except (OSError, ValueError):  # the key file is written a moment after start
        return False
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        return requests.get(inference_url.rstrip("/") + "/ping", headers=headers, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def _management_up(url: str, key_file: str | None = None) -> bool:
    from .client import read_token

    try:
        token = read_token(key_file, "management") if key_file else None
    except (OSError, ValueError):
        return False
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return requests.get(url.rstrip("/") + "/models", headers=headers, timeout=1.0).status_code == 200
    except requests.RequestException:
        return False


def stop(run_dir: str | Path, timeout: float = 20.0) -> bool:
    """Stop the process group started by :func:`start` (TERM, then KILL). True if one was running."""
    run_dir = Path(run_dir)
    pid = read_pid(run_dir)
    if pid is None:
        _pid_file(run_dir).unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        try:  # reap our own child if it is one
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _pid_file(run_dir).unlink(missing_ok=True)
    return True


def status(cfg: ServeConfig) -> dict:
    """Process, /ping and the registered models (management API) of an instance."""
    from .management import ManagementClient

    out = {"run_dir": str(cfg.run_dir), "pid": read_pid(cfg.run_dir), "inference_url": cfg.inference_url,
           "healthy": ping(cfg.inference_url, token_file=str(cfg.key_file) if cfg.token_auth else None)}
    if out["healthy"]:
        try:
            out["models"] = ManagementClient(cfg.management_url, token_file=str(cfg.key_file)
                                             if cfg.token_auth else None).models()
        except Exception as exc:  # noqa: BLE001 - status must always answer
            out["models_error"] = str(exc)
    return out
