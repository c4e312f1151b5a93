"""Operational tasks: a ping used by health probes and by the tests' round trips."""

from __future__ import annotations

import os
import socket

from celery import shared_task


@shared_task(name="workers.system.ping")
def ping(payload: str = "") -> dict:
    """Echo ``payload`` with the worker's pid and host, proving a real worker process ran it."""
    return {"echo": payload, "pid": os.getpid(), "host": socket.gethostname()}
