"""HTTP client of the platform's API and its resumable upload protocol (platform/README.md).

Every request goes through :meth:`Api.request`, which retries network errors (refused or dropped
connections, timeouts) and 5xx answers with exponential backoff and jitter; 429 waits for
``Retry-After`` the same way. Any other 4xx is never retried: it becomes :class:`AuthError` (401/403)
or :class:`Rejected` carrying the server's ``{"error": {"code", "message"}}``.

Upload (chunked mode)::

    POST /uploads/  {subject, format: gait-session, size, sha256, tasks, filename}   Idempotency-Key
    GET  /uploads/{id}/                       -> offset (resume point)
    PUT  /uploads/{id}/chunk/   bytes, Upload-Offset, Upload-Checksum: sha256 <b64>
    POST /uploads/{id}/complete/              -> 201 session (size + SHA-256 verified on the server)

A chunk whose answer was lost is detected by the next PUT's ``409 offset_mismatch`` (it carries the
server's offset): we continue from there. Creating and completing are idempotent on the server.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from .backoff import Backoff
from .errors import AuthError, Rejected, Unavailable

log = logging.getLogger("gait_upload")

FORMAT = "gait-session"
DEFAULT_CHUNK = 1024 * 1024
TIMEOUT = (10, 120)  # connect, read (seconds)
USER_AGENT = "gait-upload/0.1"

_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass
class ApiError:
    status: int
    code: str
    message: str
    details: dict


def _parse_error(resp: requests.Response) -> ApiError:
    try:
        body = resp.json()
        err = body.get("error", {}) if isinstance(body, dict) else {}
    except ValueError:
        err = {}
    return ApiError(resp.status_code, str(err.get("code") or f"http_{resp.status_code}"),
                    str(err.get("message") or resp.reason or "no message"), err.get("details") or {})


class Api:
    """A token-authenticated session with the API (``server`` is the site's base URL)."""

    def __init__(self, server: str, token: str, *, backoff: Backoff | None = None,
                 sleep: Callable[[float], None] = time.sleep, on_retry: Callable[[str, float], None] | None = None):
        self.server = server.rstrip("/")
        self.base = self.server + "/api/v1"
        self.backoff = backoff or Backoff.from_env()
        self.sleep = sleep
        self.on_retry = on_retry
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT,
                                  "Accept": "application/json"})
        self.plain = requests.Session()  # presigned S3 URLs: no Authorization header (S3 would refuse it)
        self.plain.headers.update({"User-Agent": USER_AGENT})
        self.retries = 0  # retries made so far (for tests and the summary)

    def close(self) -> None:
        self.http.close()
        self.plain.close()

    # --- one request, retried -----------------------------------------------------------------------
    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), passthrough: tuple[int, ...] = (),
                session: requests.Session | None = None, **kw) -> requests.Response:
        """Send and return the response with a status in ``ok`` or ``passthrough``; retry transient failures."""
        url = path if path.startswith("http") else f"{self.base}/{path.lstrip('/')}"
        kw.setdefault("timeout", TIMEOUT)
        last, kind = "", "network"
        for n in range(self.backoff.attempts):
            retry_after = None
            try:
                resp = (session or self.http).request(method, url, **kw)
            except _NETWORK_ERRORS as exc:
                last, kind = f"network error: {type(exc).__name__}: {_short(exc)}", "network"
            else:
                if resp.status_code in ok or resp.status_code in passthrough:
                    return resp
                if resp.status_code >= 500 or resp.status_code == 429:
                    kind = "busy" if resp.status_code == 429 else "server"
                    last = f"server answered {resp.status_code} {resp.reason}"
                    if resp.headers.get("Content-Type", "").startswith("application/json"):
                        err = _parse_error(resp)
                        last += f" ({err.code}: {err.message})"
                    retry_after = _retry_after(resp)
                else:
                    raise self._client_error(resp)
            if n + 1 >= self.backoff.attempts:
                break
            pause = self.backoff.delay(n, retry_after)
            self.retries += 1
            log.info("%s %s: %s; retry %d in %.2f s", method, url, last, n + 1, pause)
            if self.on_retry:
                self.on_retry(last, pause)
            self.sleep(pause)
        hint = {"network": "the server could not be reached: check the network and run `gait-upload push` again",
                "server": "the server is up but failing on its side (not a network problem): run `gait-upload push` "
                          "again later, and tell your platform administrator if it persists",
                "busy": "the server is limiting how fast you send: run `gait-upload push` again later"}[kind]
        raise Unavailable(f"{method} {url} failed {self.backoff.attempts} times; last: {last}",
                          f"{hint}; the upload resumes where it stopped", kind=kind)

    def _client_error(self, resp: requests.Response) -> Exception:
        err = _parse_error(resp)
        if resp.status_code == 401:
            return AuthError(f"the server refused the token: {err.message}",
                             "the token is wrong, revoked or expired: ask your organisation admin for a new one and "
                             "run gait-upload login --server URL --token TOKEN")
        if resp.status_code == 403:
            return AuthError(f"the token may not do this: {err.message}",
                             "ask your organisation admin for a token with the clinician role")
        exc = Rejected(f"the server rejected the request ({resp.status_code} {err.code}): {err.message}",
                       code=err.code, status=resp.status_code)
        exc.details = err.details  # type: ignore[attr-defined]
        return exc

    def get_json(self, path: str, **params) -> Any:
        return self.request("GET", path, params=params or None).json()

    # --- resources ----------------------------------------------------------------------------------
    def me(self) -> dict:
        return self.get_json("me/")

    def subject_pk(self, external_id: str) -> int:
        found = self.get_json("subjects/", external_id=external_id)
        results = found.get("results", found) if isinstance(found, dict) else found
        if not results:
            raise Rejected(f"subject unknown: {external_id!r} is not a subject of your organisation",
                           "check the ID, or create the subject on the platform first", code="subject_unknown")
        return results[0]["id"]

    def recent_sessions(self, limit: int = 20) -> list[dict]:
        return self.get_json("sessions/", limit=limit, ordering="-created_at")["results"]

    # --- the upload protocol ----------------------------------------------------------------------
    def create_upload(self, *, key: str, subject: int, size: int, sha256: str, tasks: list[str], filename: str,
                      mode: str = "chunked", allow_duplicate: bool = False) -> dict:
        """The upload; when the organisation already has this content as a session the answer is that
        session's upload with ``duplicate: true`` (status complete: nothing to send), unless
        ``allow_duplicate``."""
        body = {"subject": subject, "format": FORMAT, "size": size, "sha256": sha256, "tasks": tasks,
                "filename": filename, "mode": mode, "allow_duplicate": allow_duplicate}
        return self.request("POST", "uploads/", json=body, headers={"Idempotency-Key": key}).json()

    def upload_state(self, upload_id: str) -> dict:
        return self.get_json(f"uploads/{upload_id}/")

    def send_chunk(self, upload_id: str, offset: int, data: bytes) -> int:
        """Send one chunk at ``offset``; returns the server's new offset (also after a lost answer)."""
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        headers = {"Upload-Offset": str(offset), "Upload-Checksum": f"sha256 {digest}",
                   "Content-Type": "application/offset+octet-stream"}
        resp = self.request("PUT", f"uploads/{upload_id}/chunk/", data=data, headers=headers, passthrough=(409,))
        if resp.status_code == 409:
            err = _parse_error(resp)
            if err.code == "offset_mismatch" and "offset" in err.details:
                return int(err.details["offset"])  # the server already has (part of) it: go on from there
            raise self._client_error(resp)
        return int(resp.json()["offset"])

    def presign(self, upload_id: str, parts: list[int]) -> dict[int, str]:
        """Presigned PUT URLs of ``parts`` (s3-multipart mode): {part: url}."""
        found = self.request("POST", f"uploads/{upload_id}/presign/", json={"parts": parts}).json()
        return {int(p["part"]): p["url"] for p in found}

    def put_part(self, url: str, data: bytes) -> None:
        """Send one part straight to S3 (Content-MD5: S3 verifies it). A 4xx from S3 (an expired URL, say)
        is not the session's fault: it leaves the upload resumable; the next push presigns again."""
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()  # S3's integrity header
        headers = {"Content-Type": "application/octet-stream", "Content-MD5": md5}
        resp = self.request("PUT", url, data=data, headers=headers, session=self.plain, ok=(200,),
                            passthrough=tuple(range(400, 500)))
        if resp.status_code != 200:
            raise Unavailable(f"S3 refused a part ({resp.status_code}): {_short(Exception(resp.text))}",
                              "run gait-upload push again: it asks for fresh upload URLs and resumes")

    def complete(self, upload_id: str) -> dict:
        return self.request("POST", f"uploads/{upload_id}/complete/").json()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "..."
