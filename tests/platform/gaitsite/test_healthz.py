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
