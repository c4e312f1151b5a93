"""Per-token throttles (kept apart from the views: DRF imports them while defining APIView).

Counting: a sliding-window counter. Requests are counted per token in fixed windows of the rate's
period (``<key>:<window number>``, one integer each in the cache); a request is allowed while the
previous window's count, weighted by the share of it still inside the sliding window, plus the current
window's count stays below the rate. That is O(1) per request, atomic in Redis and so shared correctly
by every server process, where DRF's ``SimpleRateThrottle`` reads and rewrites the list of every request
time of the last period on every request (1,200 floats at the default rate) and loses counts when
processes race.

On Redis (production) a request costs one round trip: a pipeline of INCR and EXPIRE of the current
window and GET of the previous one; a refused request takes its count back with DECR. Through Django's
cache API the same took four (``get_many``, ``add``, and ``incr``, which checks ``exists`` first): about
0.8 ms of server CPU per API request (``bench/api.py``, with and without Redis). Other caches (the
embedded default's per-process memory) go through the cache API.
"""

from __future__ import annotations

import logging

from rest_framework import throttling

log = logging.getLogger("tenancy")


def _cache_errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - no Redis client installed: only local caches
        return (OSError,)
    return (RedisError, OSError)


class OrganisationRateThrottle(throttling.SimpleRateThrottle):
    """Per token (or per user for web sessions) request rate; ``GAIT_API_RATE``."""

    scope = "api"
    wait_seconds: float | None = None

    def get_cache_key(self, request, view):
        from .models import APIToken

        if isinstance(request.auth, APIToken):
            ident = f"token:{request.auth.pk}"
        elif getattr(request.user, "pk", None):
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        """Fails open: with the cache (Redis) down the request is allowed and a warning logged, so the API
        keeps answering; limits resume when the cache is back."""
        try:
            return self._allow(request, view)
        except _cache_errors() as exc:
            log.warning("throttle %s: the rate-limit cache is unavailable, request allowed: %s: %s",
                        self.scope, type(exc).__name__, exc)
            return True

    def _allow(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        window, into = divmod(self.timer(), self.duration)
        current, previous = f"{self.key}:{int(window)}", f"{self.key}:{int(window) - 1}"
        client = _redis_client(self.cache)
        if client is not None:
            return self._allow_redis(client, current, previous, into)
        counts = self.cache.get_many([current, previous])
        cur, prev = counts.get(current, 0), counts.get(previous, 0)
        if self._over(prev, cur + 1, into):
            self.wait_seconds = self._wait(prev, cur, into)
            return self.throttle_failure()
        if not self.cache.add(current, 1, timeout=2 * self.duration + 1):
            try:
                self.cache.incr(current)
            except ValueError:  # expired between add and incr
                self.cache.add(current, 1, timeout=2 * self.duration + 1)
        return True

    def _over(self, prev: int, cur_with_this: int, into: float) -> bool:
        """The sliding-window decision: the previous window's count, weighted by its share still inside the
        window, plus the current window's count including this request, exceeds the rate."""
        return prev * (1 - into / self.duration) + cur_with_this > self.num_requests

    def _allow_redis(self, client, current: str, previous: str, into: float) -> bool:
        """The same decision as the generic path, in one round trip: count first, take it back if refused."""
        cur_key, prev_key = self.cache.make_and_validate_key(current), self.cache.make_and_validate_key(previous)
        pipe = client.pipeline(transaction=False)
        pipe.incr(cur_key)
        pipe.expire(cur_key, 2 * int(self.duration) + 1)
        pipe.get(prev_key)
        cur, _, prev = pipe.execute()
        prev = int(prev or 0)
        if self._over(prev, cur, into):
            client.decr(cur_key)  # refused requests are not counted
            self.wait_seconds = self._wait(prev, cur - 1, into)
            return self.throttle_failure()
        return True

    def _wait(self, prev: int, cur: int, into: float) -> float:
        """Seconds until the next request would be allowed (the Retry-After header)."""
        d, n = self.duration, self.num_requests
        if cur + 1 <= n and prev:  # the previous window's share decays enough within this window
            return max(0.0, d * (1 - (n - 1 - cur) / prev) - into)
        return (d - into) + (d * max(0.0, 1 - (n - 1) / cur) if cur else 0.0)

    def wait(self):
        return self.wait_seconds


class UploadRateThrottle(OrganisationRateThrottle):
    """Upload creations per token or user; ``GAIT_UPLOAD_RATE``. Counts only the create action of views
    that say ``counts_as_upload = True`` (the uploads endpoint), never cohorts, subjects, tokens or members."""

    scope = "upload"

    def allow_request(self, request, view):
        if getattr(view, "action", None) != "create" or not getattr(view, "counts_as_upload", False):
            return True
        return super().allow_request(request, view)


def _redis_client(cache):
    """A client of the Redis behind Django's ``RedisCache`` (its connection pool), else None.

    ``cache`` may be ``django.core.cache.cache`` -- the proxy DRF's throttles hold by default, which is
    not itself a ``RedisCache`` -- or a backend. The client is built once per backend: redis-py builds its
    table of ~250 response callbacks, twice, for every client, and Django's ``get_client`` makes a new
    client on each call (about 0.07 ms of CPU each).
    """
    from django.core.cache.backends.redis import RedisCache
    from django.utils.connection import ConnectionProxy

    if isinstance(cache, ConnectionProxy):
        cache = cache._connections[cache._alias]  # this thread's backend behind the proxy
    if not isinstance(cache, RedisCache):
        return None
    client = cache.__dict__.get("_throttle_client")
    if client is None:  # Django's client on the cache's own pooled connections (the write pool)
        client = cache.__dict__["_throttle_client"] = cache._cache.get_client(write=True)
    return client
