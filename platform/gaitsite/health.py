"""``/healthz``: is every part the platform depends on reachable?

Each check returns ``(ok, detail)`` and never raises; the view answers 200 when all are ok and 503
otherwise. Checks are cheap and time-bounded (a few seconds at most), so a load balancer or Kubernetes
probe can call them. Only internal callers see which parts fail and their details (bucket, broker,
inference server): a request from an address in ``GAIT_HEALTH_ALLOW_NETWORKS`` or carrying
``Authorization: Bearer <GAIT_HEALTH_TOKEN>``; everyone else gets ``{"status": ...}`` alone.

The API process never imports torch, serving or workers: the inference backend is asked through the
small ``InferenceProbe`` protocol below (TorchServe's ``/ping`` over HTTP; for the in-process backend, only
whether the package and the checkpoint file are there).
"""

from __future__ import annotations

import hmac
import importlib.util
import ipaddress
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

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


class InferenceProbe(Protocol):
    """What the platform asks of an inference backend: is it there? ``(ok, detail)``."""

    def ping(self) -> tuple[bool, str]: ...


class TorchServeProbe:
    """TorchServe's ``/ping`` (with the inference key when token authorisation is on)."""

    def __init__(self, url: str, key_file: str | None = None) -> None:
        self.url, self.key_file = url.rstrip("/"), key_file

    def key(self) -> str | None:
        """A plain-text key file, or TorchServe's ``key_file.json`` (``{"inference": {"key": ...}}``)."""
        if not self.key_file:
            return None
        text = Path(self.key_file).read_text().strip()
        if text.startswith("{"):
            entry = json.loads(text).get("inference") or {}
            return entry.get("key") if isinstance(entry, dict) else str(entry)
        return text or None

    def ping(self) -> tuple[bool, str]:
        key = self.key()
        r = requests.get(self.url + "/ping", headers={"Authorization": f"Bearer {key}"} if key else {},
                         timeout=TIMEOUT_S)
        if r.status_code != 200:
            return False, f"torchserve /ping answered {r.status_code}"
        return True, f"torchserve {self.url}: {r.json().get('status', '?')}"


class InProcessProbe:
    """The worker loads the model itself: the package and the checkpoint must be there (never imported here)."""

    def __init__(self, checkpoint: str | None) -> None:
        self.checkpoint = checkpoint

    def ping(self) -> tuple[bool, str]:
        if importlib.util.find_spec("torch") is None:
            return False, "inprocess backend but torch is not installed in this environment"
        if self.checkpoint and not Path(self.checkpoint).is_file():
            return False, f"inprocess backend: checkpoint {self.checkpoint} not found"
        return True, "inprocess" + (f" ({self.checkpoint})" if self.checkpoint else "")


def inference_probe() -> InferenceProbe:
    if settings.INFERENCE_BACKEND == "torchserve":
        return TorchServeProbe(settings.TORCHSERVE_URL, settings.TORCHSERVE_TOKEN_FILE or None)
    return InProcessProbe(settings.MODEL_CHECKPOINT)


def check_inference() -> tuple[bool, str]:
    return inference_probe().ping()


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


def is_internal(request) -> bool:
    """An operator's probe: the health token, or an address in the allowed networks."""
    token = getattr(settings, "HEALTH_TOKEN", "")
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip().encode(), token.encode()):
        return True
    try:
        addr = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(net, strict=False) for net in settings.HEALTH_ALLOW_NETWORKS)


@never_cache
@require_GET
def healthz(request):
    parts = run_checks()
    failing = [name for name, p in parts.items() if not p["ok"]]
    body = {"status": "ok" if not failing else "unavailable"}
    if is_internal(request):
        body.update(failing=failing, parts=parts)
    return JsonResponse(body, status=200 if not failing else 503)
