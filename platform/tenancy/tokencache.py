"""Verified API tokens, remembered per process for a few seconds (one query less per request).

``auth`` reads and fills the cache; ``actions.revoke_token`` forgets a token, so a revocation takes
effect at once in the process that revoked it and within ``CACHE_SECONDS`` elsewhere. Expiry is checked
on every request (by ``auth``), never cached.
"""

from __future__ import annotations

import time

from .models import APIToken

CACHE_SECONDS = 5.0
MAX_ENTRIES = 10_000
_cache: dict[str, tuple[float, APIToken]] = {}


def get(key_hash: str) -> APIToken | None:
    """The token verified under this hash less than ``CACHE_SECONDS`` ago, or None."""
    hit = _cache.get(key_hash)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    return None


def remember(key_hash: str, token: APIToken) -> None:
    if len(_cache) > MAX_ENTRIES:
        _cache.clear()
    _cache[key_hash] = (time.monotonic(), token)


def forget(key_hash: str) -> None:
    _cache.pop(key_hash, None)
