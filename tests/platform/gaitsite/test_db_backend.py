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


@pytest.mark.django_db
def test_prepared_statements_give_the_same_rows():
    """Production options (gaitsite.settings.POSTGRES_OPTIONS, also the test suite's): server-side binding,
    statements prepared from their fifth run. A prepared statement answers as the first runs did."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backend only")
    from gaitsite.settings import POSTGRES_OPTIONS

    assert connection.settings_dict["OPTIONS"] == POSTGRES_OPTIONS
    threshold = POSTGRES_OPTIONS["prepare_threshold"]
    sql = "SELECT %s::int + 1, %s::text, now() - now()"
    with connection.cursor() as cur:
        rows = []
        for i in range(threshold + 3):
            cur.execute(sql, [i, f"v{i}"])
            rows.append(cur.fetchone())
    assert [r[:2] for r in rows] == [(i + 1, f"v{i}") for i in range(threshold + 3)]
    prepared = [key[0] for key in connection.connection._prepared._names]  # psycopg's prepared statements
    assert sql.replace("%s", "$1", 1).replace("%s", "$2", 1).encode() in prepared


@pytest.mark.django_db
def test_the_suite_runs_on_the_production_backend():
    """The API tests exercise the backend production uses (its timestamptz loader included), not Django's."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backend only")
    from django.db import connections
    from gaitsite.postgresql.base import DatabaseWrapper

    assert isinstance(connections["default"], DatabaseWrapper)
