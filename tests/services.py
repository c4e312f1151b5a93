"""Real services for the tests: use the machine's when reachable, else start throwaway instances.

PostgreSQL and Redis run on this project's machines (127.0.0.1:5432, 127.0.0.1:6379). On a machine
without them (a newcomer's laptop) we start a private instance from the installed server binaries on a
free loopback port and stop it when the test process exits. If the binaries are missing too, we stop
the run with a message saying what to install -- those tests are never silently skipped.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    """A service the tests need is neither running nor startable here."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise ServiceUnavailable(f"process {proc.args[0]} exited with code {proc.returncode}")
        time.sleep(0.1)
    raise ServiceUnavailable(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def _stop_on_exit(proc: subprocess.Popen) -> None:
    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    atexit.register(stop)


# --- PostgreSQL ------------------------------------------------------------------------------------
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _pg_accepts(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@cache
def postgres_url(dbname: str = "postgres") -> str:
    """URL of a PostgreSQL server whose role may CREATE DATABASE (pytest-django makes its own)."""
    explicit = os.environ.get("GAIT_TEST_POSTGRES_URL")
    if explicit:
        return explicit.rsplit("/", 1)[0] + f"/{dbname}"
    for user in ("postgres", os.environ.get("USER") or "root"):
        url = f"postgresql://{user}@127.0.0.1:5432/{dbname}"
        if port_open("127.0.0.1", 5432) and _pg_accepts(url.rsplit("/", 1)[0] + "/postgres"):
            return url
    return _start_postgres() + f"/{dbname}"


def _start_postgres() -> str:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise ServiceUnavailable(
            "PostgreSQL is not reachable on 127.0.0.1:5432 and its server binaries (initdb, pg_ctl) are "
            "not installed. Install them: `sudo apt-get install postgresql` (Debian/Ubuntu) or "
            "`brew install postgresql@15`, or set GAIT_TEST_POSTGRES_URL."
        )
    data = Path(tempfile.mkdtemp(prefix="gait-test-pg-"))
    port = free_port()
    # initdb refuses to run as root: run the server as the 'postgres' system user then.
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if not runuser:
            raise ServiceUnavailable("running as root needs `runuser` to start PostgreSQL as user postgres")
        shutil.chown(data, "postgres")
        as_user = [runuser, "-u", "postgres", "--"]
    subprocess.run([*as_user, initdb, "-D", str(data / "db"), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    proc = subprocess.Popen(
        [*as_user, _pg_bin("postgres") or "postgres", "-D", str(data / "db"), "-p", str(port),
         "-k", str(data), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _stop_on_exit(proc)
    wait_port("127.0.0.1", port, 30, proc)
    return f"postgresql://postgres@127.0.0.1:{port}"


# --- Redis -----------------------------------------------------------------------------------------
@cache
def redis_url(db: int = 0) -> str:
    explicit = os.environ.get("GAIT_TEST_REDIS_URL")
    if explicit:
        return explicit
    port = int(os.environ.get("GAIT_TEST_REDIS_PORT", "6379"))  # concurrent runs: one Redis server each
    if port_open("127.0.0.1", port):
        return f"redis://127.0.0.1:{port}/{db}"
    server = shutil.which("redis-server")
    if not server:
        raise ServiceUnavailable(
            "Redis is not reachable on 127.0.0.1:6379 and redis-server is not installed. Install it: "
            "`sudo apt-get install redis-server` or `brew install redis`, or set GAIT_TEST_REDIS_URL."
        )
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _stop_on_exit(proc)
    wait_port("127.0.0.1", port, 15, proc)
    return f"redis://127.0.0.1:{port}/{db}"


# --- S3 (moto's server) ------------------------------------------------------------------------------
MOTO_MIN_PART = 64 * 1024  # moto's minimum multipart part size in the tests (real S3: 5 MiB)


@cache
def moto_s3_url() -> str:
    """A real S3 HTTP endpoint (moto's server) on a free loopback port, stopped at exit."""
    import sys

    server = Path(sys.executable).with_name("moto_server")
    if not server.exists():
        raise ServiceUnavailable("moto_server is not installed: pip install 'moto[server]' (./run test does)")
    port = free_port()
    env = {**os.environ, "S3_UPLOAD_PART_MIN_SIZE": str(MOTO_MIN_PART), "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": "1048576"}
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _stop_on_exit(proc)
    wait_port("127.0.0.1", port, 30, proc)
    return f"http://127.0.0.1:{port}"
