"""/healthz: 200 when every part is reachable, 503 naming the failing part otherwise."""

import pytest
from django.test import override_settings

from tests.services import free_port

pytestmark = pytest.mark.django_db


def test_healthz_ok_on_embedded_defaults(client, settings, tmp_path):
    # The suite's database is PostgreSQL; broker, storage and inference are the embedded defaults.
    settings.CELERY_BROKER_URL = f"sqla+sqlite:///{tmp_path}/broker.sqlite3"
    r = client.get("/healthz")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["parts"]) == {"database", "broker", "storage", "inference"}
    assert body["parts"]["inference"]["detail"].startswith("inprocess")


def test_healthz_names_the_broker_when_its_port_is_closed(client):
    closed = free_port()
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed}/0"):
        r = client.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["failing"] == ["broker"]
    assert "Error" in body["parts"]["broker"]["detail"]


def test_healthz_names_inference_when_torchserve_is_down(client, settings):
    settings.INFERENCE_BACKEND = "torchserve"
    settings.TORCHSERVE_URL = f"http://127.0.0.1:{free_port()}"
    r = client.get("/healthz")
    assert r.status_code == 503
    assert "inference" in r.json()["failing"]


def test_healthz_names_a_missing_checkpoint(client, settings, tmp_path):
    settings.MODEL_CHECKPOINT = str(tmp_path / "missing.pt")
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["failing"] == ["inference"]
    assert "missing.pt" in r.json()["parts"]["inference"]["detail"]


def test_home_page_shows_system_status(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = f"sqla+sqlite:///{tmp_path}/broker.sqlite3"
    r = client.get("/")
    assert r.status_code == 200
    assert b"System status" in r.content and b"reachable" in r.content


def test_outside_callers_get_the_status_only(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = f"sqla+sqlite:///{tmp_path}/broker.sqlite3"
    settings.HEALTH_TOKEN = "health-secret-123"
    settings.STORAGE_BACKEND, settings.MEDIA_ROOT = "local", str(tmp_path / "media-bucket-name")
    outside = {"REMOTE_ADDR": "203.0.113.7"}
    r = client.get("/healthz", **outside)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert b"media-bucket-name" not in client.get("/", **outside).content  # nor on the home page
    r = client.get("/healthz", HTTP_AUTHORIZATION="Bearer wrong", **outside)
    assert r.json() == {"status": "ok"}
    r = client.get("/healthz", HTTP_AUTHORIZATION="Bearer health-secret-123", **outside)
    assert "media-bucket-name" in r.json()["parts"]["storage"]["detail"]
    settings.HEALTH_ALLOW_NETWORKS = ["203.0.113.0/24"]
    assert "parts" in client.get("/healthz", **outside).json()
    # and a failure is a 503 for everyone, named only for internal callers
    settings.MODEL_CHECKPOINT = str(tmp_path / "missing.pt")
    settings.HEALTH_ALLOW_NETWORKS = ["10.0.0.0/8"]
    r = client.get("/healthz", **outside)
    assert r.status_code == 503 and r.json() == {"status": "unavailable"}


def test_the_torchserve_probe_sends_the_inference_key(tmp_path):
    """The platform's own probe (no import of serving) reads TorchServe's key_file.json and a plain key."""
    import http.server
    import threading

    from gaitsite.health import TorchServeProbe

    seen = []

    class Ping(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            body = b'{"status": "Healthy"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        (tmp_path / "key_file.json").write_text('{"inference": {"key": "k-json"}, "management": {"key": "m"}}')
        (tmp_path / "plain").write_text("k-plain\n")
        assert TorchServeProbe(url, str(tmp_path / "key_file.json")).ping() == (True, f"torchserve {url}: Healthy")
        assert TorchServeProbe(url, str(tmp_path / "plain")).ping()[0]
        assert TorchServeProbe(url).ping()[0]
    finally:
        server.shutdown()
    assert seen == ["Bearer k-json", "Bearer k-plain", None]
