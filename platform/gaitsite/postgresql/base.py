"""The platform's PostgreSQL backend: Django's, with a cheaper connection health check and timestamptz
columns parsed by psycopg's C loader (``loaders.py``: the same values as Django's loader).

With persistent connections and ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query
of every request -- one round trip in three of a typical API request. Here a connection that ran a
query less than ``HEALTH_CHECK_IDLE_S`` seconds ago counts as healthy without it; an idle one (where
a restarted server, a proxy's idle timeout or a network cut shows up) is still checked first. A
connection that fails mid-request is closed at the request's end as before (Django checks connections
with errors), so a database restart costs at most the requests of that one second.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

from .loaders import with_fast_tz_loader

HEALTH_CHECK_IDLE_S = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    _used_at = float("-inf")

    def get_connection_params(self):
        params = super().get_connection_params()
        if "context" in params:  # psycopg 3: Django's adapters, timestamptz through the C parser
            params["context"] = with_fast_tz_loader(params["context"], self.timezone)
        return params

    def close_if_health_check_failed(self):
        # Called before every cursor is created: remember when, and skip the ping while recently used.
        now = time.monotonic()
        recent, self._used_at = now - self._used_at < HEALTH_CHECK_IDLE_S, now
        if recent and self.connection is not None and not self.pool:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close(self):
        self._used_at = float("-inf")
        super().close()
