"""gaitsite.postgresql: the per-request health check is skipped for a connection used a moment ago and
still made after idle (where a restarted server or a proxy's idle timeout shows up)."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.db import connection


@pytest.mark.django_db
def test_health_check_only_after_idle():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backend only")
    from gaitsite.postgresql.base import HEALTH_CHECK_IDLE_S, DatabaseWrapper

    conn = DatabaseWrapper({**connection.settings_dict, "CONN_HEALTH_CHECKS": True, "CONN_MAX_AGE": 60},
                           alias="health-check-test")
    try:
        conn.ensure_connection()
        assert conn.health_check_enabled

        def request(pings) -> None:  # a request's first query
            conn.health_check_done = False
            with conn.cursor() as cur:
                cur.execute("SELECT 1")

        with mock.patch.object(DatabaseWrapper, "is_usable", autospec=True, return_value=True) as ping:
            request(ping)
            request(ping)  # a moment later: no ping
            assert ping.call_count == 0
            conn._used_at = time.monotonic() - HEALTH_CHECK_IDLE_S - 0.1  # idle: checked again
            request(ping)
            assert ping.call_count == 1
        with mock.patch.object(DatabaseWrapper, "is_usable", autospec=True, return_value=False):
            conn._used_at = time.monotonic() - HEALTH_CHECK_IDLE_S - 0.1
            conn.health_check_done = False
            conn.close_if_health_check_failed()  # a failed check still closes the connection
            assert conn.connection is None
    finally:
        conn.close()
