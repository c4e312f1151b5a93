"""The sliding-window counter throttle (tenancy.throttles): limits, Retry-After, counts shared through
the cache (as by several server processes), refused requests not counted."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from tenancy.throttles import OrganisationRateThrottle


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


CACHE = {"cache": cache}  # the backend under test (the fixture below sets it)


def throttle(clock, rate="3/min"):
    cls = type("T", (OrganisationRateThrottle,), {"rate": rate, "cache": CACHE["cache"]})
    t = cls()
    t.timer = clock
    return t


REQ = SimpleNamespace(auth=None, user=SimpleNamespace(pk=4242))


@pytest.fixture(autouse=True, params=["locmem", "redis"])
def _backend(request):
    """Every test on the per-process memory cache (generic path) and on Redis (one-round-trip path)."""
    if request.param == "redis":
        from django.core.cache.backends.redis import RedisCache

        from tests.services import redis_url

        # a fresh key prefix per test instead of clear() (FLUSHDB would reach other users of the db)
        CACHE["cache"] = RedisCache(redis_url(12), {"KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}"})
    else:
        CACHE["cache"] = cache
        cache.clear()
    yield
    cache.clear()
    CACHE["cache"] = cache


def test_limit_within_a_window_and_refused_requests_do_not_count():
    clock = Clock(600 * 60 + 1.0)  # just after a window starts
    t = throttle(clock)
    assert [t.allow_request(REQ, None) for _ in range(5)] == [True, True, True, False, False]
    assert 0 < t.wait() <= 120
    other = throttle(clock)  # another server process, same cache: same budget
    assert other.allow_request(REQ, None) is False
    assert throttle(clock).allow_request(SimpleNamespace(auth=None, user=SimpleNamespace(pk=1)), None)  # own budget
    clock.t += 60  # next window: the previous one still weighs ~all
    assert t.allow_request(REQ, None) is False
    clock.t += 25  # 26 s into it: 3 x 34/60 = 1.7 used -> one more fits, then full
    assert t.allow_request(REQ, None) is True
    assert t.allow_request(REQ, None) is False
    clock.t += 120  # two windows later: a fresh budget
    assert [t.allow_request(REQ, None) for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize("rate,start,burst", [("3/min", 10.0, 3), ("10/min", 59.0, 10), ("1/sec", 0.2, 1),
                                               ("5/min", 30.0, 7)])
def test_retry_after_is_when_the_next_request_fits(rate, start, burst):
    clock = Clock(1_000_000 * 60 + start)
    t = throttle(clock, rate)
    for _ in range(burst):
        t.allow_request(REQ, None)
    assert t.allow_request(REQ, None) is False
    wait = t.wait()
    assert wait > 0
    clock.t += wait - 0.01
    assert t.allow_request(REQ, None) is False, "allowed before Retry-After"
    clock.t += 0.02
    assert t.allow_request(REQ, None) is True, "still refused after Retry-After"


def test_redis_takes_the_one_round_trip_path():
    from tenancy.throttles import _redis_client

    on_redis = _redis_client(CACHE["cache"]) is not None
    assert on_redis == (CACHE["cache"] is not cache)


def test_the_default_cache_on_redis_takes_the_one_round_trip_path(settings):
    """As configured in production: DRF's throttles hold ``django.core.cache.cache``, a proxy that is not
    itself a ``RedisCache``; with Redis behind it the throttle must still take the pipeline path."""
    from django.core.cache import caches
    from tenancy.throttles import _redis_client

    from tests.services import redis_url

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": redis_url(12), "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}"}}
    assert OrganisationRateThrottle.cache is cache  # DRF's default: the proxy
    client = _redis_client(cache)
    assert client is not None, "the Redis behind the default cache was not recognised"
    assert _redis_client(cache) is client, "a new Redis client for every request"
    clock = Clock(1_000_000.0)
    t = type("T", (OrganisationRateThrottle,), {"rate": "3/min"})()
    t.timer = clock
    assert [t.allow_request(REQ, None) for _ in range(4)] == [True, True, True, False]
    key = caches["default"].make_and_validate_key(f"{t.key}:{int(clock.t // 60)}")
    assert int(client.get(key)) == 3, "the count is not in Redis (refused request taken back)"
