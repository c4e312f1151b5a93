"""Celery round trips through a real worker process: the embedded SQLite broker, and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from celery import Celery

from tests.helpers import REPO, run_python

pytestmark = pytest.mark.integration


def start_worker(broker: str, backend: str, var_dir) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAIT_")}
    env.update({
        "GAIT_VAR_DIR": str(var_dir),
        "GAIT_BROKER_URL": broker,
        "GAIT_RESULT_BACKEND": backend,
        "DJANGO_SETTINGS_MODULE": "gaitsite.settings",
        "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)]),
    })
    log = open(var_dir / "worker.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info", "-n", f"test-{time.time_ns()}@%h"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )


def round_trip(broker: str, backend: str, var_dir) -> dict:
    worker = start_worker(broker, backend, var_dir)
    client = Celery(broker=broker, backend=backend)
    client.conf.task_default_queue = "default"  # as the platform's settings route it
    try:
        result = client.send_task("workers.system.ping", args=["hello"])
        return result.get(timeout=90)
    finally:
        worker.terminate()
        worker.wait(30)
        client.close()


def test_round_trip_through_embedded_sqlite_broker(tmp_path):
    reply = round_trip(f"sqla+sqlite:///{tmp_path}/broker.sqlite3", f"db+sqlite:///{tmp_path}/results.sqlite3", tmp_path)
    assert reply["echo"] == "hello"
    assert reply["pid"] != os.getpid()


def test_embedded_broker_settings(tmp_path):
    # kombu's default 1 s poll made every step of a session's six-task chain wait about a second
    code = ("from workers.celery_app import app\n"
            "with app.connection_for_write() as conn:\n"
            "    t = conn.transport\n"
            "    print(type(t).__module__, t.polling_interval, app.conf.worker_prefetch_multiplier)\n")
    out = run_python(code, {"GAIT_VAR_DIR": str(tmp_path), "GAIT_BROKER_URL": f"sqla+sqlite:///{tmp_path}/b.sqlite3"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["workers.embedded_broker", "0.1", "4"]
    out = run_python(code, {"GAIT_VAR_DIR": str(tmp_path), "GAIT_BROKER_URL": "redis://127.0.0.1:6379/15"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "kombu.transport.redis"
    assert out.stdout.split()[2] == "1"  # production brokers keep one message per worker process at a time


def test_round_trip_through_redis(tmp_path, redis_url):
    reply = round_trip(redis_url, redis_url, tmp_path)
    assert reply["echo"] == "hello"
    assert reply["pid"] != os.getpid()
