"""The production gunicorn settings file: one worker per usable core, a pod's CPU quota respected."""

from __future__ import annotations

import builtins
import io
import os
import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[3] / "platform" / "gaitsite" / "gunicorn.conf.py"


def load(monkeypatch, cpu_max: str | None, affinity: int, concurrency: str | None = None) -> dict:
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if str(path) == "/sys/fs/cgroup/cpu.max":
            if cpu_max is None:
                raise FileNotFoundError(path)
            return io.StringIO(cpu_max)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(affinity)))
    if concurrency is None:
        monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("WEB_CONCURRENCY", concurrency)
    return runpy.run_path(str(CONF))


@pytest.mark.parametrize(("cpu_max", "affinity", "workers"), [
    (None, 2, 2),  # no cgroup file: the CPUs the process may run on
    ("max 100000", 8, 8),  # no quota
    ("200000 100000", 32, 2),  # a pod limited to 2 CPUs on a 32-CPU node
    ("150000 100000", 32, 2),  # 1.5 CPUs round up
    ("50000 100000", 32, 2),  # never fewer than two workers
    (None, 1, 2),
])
def test_one_worker_per_usable_core(monkeypatch, cpu_max, affinity, workers):
    assert load(monkeypatch, cpu_max, affinity)["workers"] == workers


def test_web_concurrency_overrides(monkeypatch):
    conf = load(monkeypatch, "200000 100000", 32, concurrency="7")
    assert conf["workers"] == 7
    assert conf["worker_class"] == "sync" and conf["threads"] == 1
