"""gunicorn settings of the web process (API and pages); the production command is

    gunicorn -c platform/gaitsite/gunicorn.conf.py -b 0.0.0.0:8000 gaitsite.wsgi

(with ``platform/`` on PYTHONPATH, as the packaging puts it), behind the cluster's ingress / a buffering
reverse proxy. ``bench/api.py`` runs exactly this file. Command-line flags and ``GUNICORN_CMD_ARGS``
override it; ``WEB_CONCURRENCY`` sets the number of worker processes.

Why these values (measured with ``bench/api.py``, see docs/experiments/2026-11-api-latency.md): a request of this API is
mostly Python CPU (a few ms) plus short PostgreSQL round trips, so the GIL makes threads inside one
worker wait for each other, and keep-alive connections pinned to one process queue behind that
process while another idles. Plain synchronous workers -- one request at a time per process, each
taken from the shared listen queue in arrival order -- give the steadiest latency: the slow tail comes
from unfair queueing, not from the work. The proxy in front keeps its own keep-alive connections to
the clients and buffers slow ones, so a synchronous worker never waits on a client's network.
"""

from __future__ import annotations

import math
import os

worker_class = "sync"


def usable_cores() -> int:
    """CPUs this process may use: the container's CPU quota (cgroup v2 ``cpu.max``) when one is set,
    else the CPUs it may run on. ``os.cpu_count()`` counts the node's CPUs, not a pod's limit."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return n


# One worker per core. A request here is CPU-bound (a few ms of Python, sub-millisecond round trips to
# PostgreSQL and Redis), and the database and Redis run their own processes, so more workers do not
# add throughput: they add context switches and share the cores' caches among more Python heaps.
# Measured on 2 cores (bench/api.py, interleaved runs, docs/experiments/2026-11-api-latency.md): 2 workers against 5 cut
# the server's CPU per request by 16-23 % and p99 from 135-173 to 109-140 ms; 3 and 4 lay in between.
# The price: a long request (a large streamed export) holds one of few workers, so a pod that serves
# heavy exports should set WEB_CONCURRENCY higher.
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, usable_cores()))
threads = 1
backlog = 2048  # requests waiting for a free worker queue here, in arrival order
keepalive = 5  # used by the threaded/async worker classes only (sync workers close after each response)
# A sync worker cannot report to the master while it serves a request, so this also bounds one request:
# long enough for a large streamed export (CSV/Parquet of a whole cohort), short enough to recover a stuck worker.
timeout = 300
graceful_timeout = 30
preload_app = True  # Django is imported once in the master, the workers fork from it (less memory, faster start)
accesslog = None  # the ingress logs requests; the platform's own loggers go to stderr
errorlog = "-"
loglevel = os.environ.get("GAIT_LOG_LEVEL", "info").lower()



def pre_fork(server, worker):
    """The preloaded app's objects (Django, DRF, the URL conf, settings) live as long as the process:
    freeze them into the collector's permanent generation, so that no collection in a worker scans them
    again (and the workers' copies of those pages are not written to by the collector)."""
    import gc

    gc.freeze()
