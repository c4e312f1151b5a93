"""``/healthz``: is every part the platform depends on reachable?

Each check returns ``(ok, detail)`` and never raises; the view answers 200 when all are ok and 503
naming the failing parts otherwise. Checks are cheap and time-bounded (a few seconds at most), so a
load balancer or Kubernetes probe can call them. The API process never imports torch: the in-process
inference check only looks for the package and the checkpoint file.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from pathlib import Path

import requests
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

TIMEOUT_S = 3.0


def check_database() -> tuple[bool, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()
    return True, connection.vendor


def check_broker() -> tuple[bool, str]:
    url = settings.CELERY_BROKER_URL
    with Connection(url, connect_timeout=TIMEOUT_S) as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_S)
        transport = conn.transport_cls
    return True, str(transport)


def check_storage() -> tuple[bool, str]:
    if settings.STORAGE_BACKEND == "s3":
        client = default_storage.connection.meta.client
        client.head_bucket(Bucket=default_storage.bucket_name)
        return True, f"s3://{default_storage.bucket_name}"
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK):
        return False, f"media folder {root} is not writable"
    return True, f"local:{root}"


def check_inference() -> tuple[bool, str]:
    if settings.INFERENCE_BACKEND == "torchserve":
        from serving.client import read_token  # no torch: the client imports it lazily

        token = read_token(settings.TORCHSERVE_TOKEN_FILE or None)  # with token auth, /ping needs the key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = requests.get(settings.TORCHSERVE_URL.rstrip("/") + "/ping", headers=headers, timeout=TIMEOUT_S)
        if r.status_code != 200:
            return False, f"torchserve /ping answered {r.status_code}"
        return True, f"torchserve {settings.TORCHSERVE_URL}: {r.json().get('status', '?')}"
    if importlib.util.find_spec("torch") is None:
        return False, "inprocess backend but torch is not installed in this environment"
    ckpt = settings.MODEL_CHECKPOINT
    if ckpt and not Path(ckpt).is_file():
        return False, f"inprocess backend: checkpoint {ckpt} not found"
    return True, "inprocess" + (f" ({ckpt})" if ckpt else "")


CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
    "inference": check_inference,
}


def run_checks() -> dict[str, dict]:
    out = {}
    for name, check in CHECKS.items():
        t0 = time.perf_counter()
        try:
            ok, detail = check()
        except Exception as exc:  # a health check reports, it never raises
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        out[name] = {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - t0) * 1000, 1)}
    return out


@never_cache
@require_GET
def healthz(request):
    parts = run_checks()
    failing = [name for name, p in parts.items() if not p["ok"]]
    body = {"status": "ok" if not failing else "unavailable", "failing": failing, "parts": parts}
    return JsonResponse(body, status=200 if not failing else 503)
