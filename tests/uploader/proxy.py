"""A fault-injecting HTTP proxy on loopback for the uploader's acceptance tests.

Every request is forwarded to the live server unless ``rule(method, path, n)`` (``n``: how many
requests with this method and path kind came before, counted from 0) says otherwise:

* ``"pass"``: forward;
* ``"503"``: answer 503 without forwarding;
* ``"drop"``: close the connection without forwarding or answering (a dropped connection);
* ``"lost"``: forward, then close without answering (the server did it; the client never hears);
* ``"hang"``: hold the request without forwarding until the proxy stops (for kill tests).

``log`` keeps ``(method, path, action, status, upload_offset)`` of every request.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
       "proxy-authenticate", "content-length"}


def kind(method: str, path: str) -> str:
    """A request's kind: ``PUT chunk``, ``POST complete``, ``POST uploads``, ``GET upload``, ..."""
    p = path.split("?")[0]
    if p.endswith("/chunk/"):
        return f"{method} chunk"
    if p.endswith("/complete/"):
        return f"{method} complete"
    if re.search(r"/uploads/[0-9a-f-]{36}/$", p):
        return f"{method} upload"
    return f"{method} {p.rstrip('/').rsplit('/', 1)[-1]}"


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.rule: Callable[[str, str, int], str] = lambda method, path, n: "pass"
        self.log: list[tuple] = []
        self.counts: Counter = Counter()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                k = kind(self.command, self.path)
                with proxy.lock:
                    n = proxy.counts[k]
                    proxy.counts[k] += 1
                    action = proxy.rule(self.command, k, n)
                offset = self.headers.get("Upload-Offset")
                if action == "hang":
                    proxy.log.append((self.command, k, action, None, offset))
                    proxy.stopping.wait(120)
                    return self._drop()
                if action == "drop":
                    proxy.log.append((self.command, k, action, None, offset))
                    return self._drop()
                if action == "503":
                    proxy.log.append((self.command, k, action, 503, offset))
                    payload = b'{"error": {"status": 503, "code": "unavailable", "message": "injected"}}'
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=60)
                headers = {h: v for h, v in self.headers.items() if h.lower() not in HOP}
                if body or self.command in ("POST", "PUT"):
                    headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                proxy.log.append((self.command, k, action, resp.status, offset))
                if action == "lost":
                    return self._drop()
                self.send_response(resp.status, resp.reason)
                for h, v in resp.getheaders():
                    if h.lower() not in HOP:
                        self.send_header(h, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _drop(self):
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def kinds(self) -> list[str]:
        return [entry[1] for entry in self.log]

    def reset(self, rule: Callable[[str, str, int], str] | None = None) -> None:
        with self.lock:
            self.log.clear()
            self.counts.clear()
            self.rule = rule or (lambda method, path, n: "pass")
