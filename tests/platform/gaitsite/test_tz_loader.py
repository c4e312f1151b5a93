"""gaitsite.postgresql.loaders: timestamptz values parsed by psycopg's C loader are exactly Django's --
same instants, same fields, same tzinfo object -- whatever the connection's time zone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg import DataError

VALUES = [
    "2026-11-24 08:16:00+00", "2026-11-24 08:16:00.123456+00", "2026-03-29 00:59:59.999999+00",
    "2026-03-29 01:00:00+00", "2026-10-25 00:30:00+00", "1970-01-01 00:00:00+00", "1900-02-28 23:59:59+00",
    "2000-02-29 12:00:00+05:30", "2024-06-30 23:59:59.5-09:30", "0001-01-01 00:00:00+00", "9999-12-31 12:00:00+00",
    "1850-07-01 10:00:00+00",
]


def _load_all(conn, loader_cls, tz_name: str):
    with conn.cursor() as cur:  # Django's cursor: the connection's adapters, the backend's loader
        raw = cur.cursor
        if loader_cls is not None:
            raw.adapters.register_loader("timestamptz", loader_cls)
        raw.execute(f"SET TIME ZONE '{tz_name}'")
        out = []
        try:
            for value in VALUES:  # one by one: a value out of Python's range fails alike in both
                try:
                    raw.execute("SELECT %s::timestamptz", [value])
                    out.append(raw.fetchone()[0])
                except DataError as exc:
                    out.append(type(exc))
            return out
        finally:
            raw.execute("SET TIME ZONE 'UTC'")


@pytest.mark.django_db
@pytest.mark.parametrize("tz_name", ["UTC", "Europe/Paris", "America/St_Johns"])
def test_fast_loader_gives_djangos_values(tz_name):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backend only")
    from gaitsite.postgresql.base import DatabaseWrapper
    from gaitsite.postgresql.loaders import CTimestamptzLoader, TzLoader

    assert CTimestamptzLoader is not None  # psycopg[binary] is a dependency: the fast path must be the one used
    conn = DatabaseWrapper(connection.settings_dict, alias="tz-loader-test")
    try:
        conn.ensure_connection()
        used = conn.connection.adapters.get_loader(1184, 0)  # timestamptz, text
        assert issubclass(used, TzLoader) and used.timezone is conn.timezone is dt.UTC

        class DjangoLoader(BaseTzLoader):  # what Django registers (psycopg_any.register_tzloader)
            timezone = conn.timezone

        ours = _load_all(conn, None, tz_name)
        django = _load_all(conn, DjangoLoader, tz_name)
    finally:
        conn.close()
    assert len(ours) == len(VALUES)
    assert (DataError in ours) == (tz_name == "America/St_Johns")  # year 1 turns BC west of UTC
    for a, b in zip(ours, django, strict=True):
        assert a == b
        if a is DataError:
            continue
        assert a.tzinfo is b.tzinfo
        assert (a.year, a.month, a.day, a.hour, a.minute, a.second, a.microsecond, a.fold) == \
               (b.year, b.month, b.day, b.hour, b.minute, b.second, b.microsecond, b.fold)
        assert a.utcoffset() == b.utcoffset()


@pytest.mark.django_db
def test_datetimes_carry_djangos_utc():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backend only")
    from gaitsite.postgresql.base import DatabaseWrapper

    conn = DatabaseWrapper(connection.settings_dict, alias="tz-loader-test")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT %s::timestamptz, NULL::timestamptz", ["2026-11-24T08:16:00.5+02:00"])
            value, null = cur.fetchone()
    finally:
        conn.close()
    assert value == dt.datetime(2026, 11, 24, 6, 16, 0, 500000, tzinfo=dt.UTC)
    assert value.tzinfo is dt.UTC and null is None
