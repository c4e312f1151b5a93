"""Exponential backoff with full jitter (delay_n uniform in [0, min(cap, base * 2**n)]).

``GAIT_UPLOAD_BACKOFF_BASE`` / ``GAIT_UPLOAD_BACKOFF_CAP`` (seconds) and ``GAIT_UPLOAD_RETRIES``
override the defaults (tests shorten them).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass
class Backoff:
    """``attempts`` tries in all; :meth:`delay` is the pause before try ``n + 1`` (n counts from 0)."""

    base: float = 0.5
    cap: float = 30.0
    attempts: int = 8
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_env(cls) -> Backoff:
        return cls(base=_env_float("GAIT_UPLOAD_BACKOFF_BASE", 0.5), cap=_env_float("GAIT_UPLOAD_BACKOFF_CAP", 30.0),
                   attempts=max(1, int(_env_float("GAIT_UPLOAD_RETRIES", 8))))

    def ceiling(self, n: int) -> float:
        """The largest pause after failed try ``n`` (exponential, capped)."""
        return min(self.cap, self.base * (2 ** n))

    def delay(self, n: int, retry_after: float | None = None) -> float:
        """Full jitter; a server's Retry-After is honoured as a lower bound (still capped)."""
        d = self.rng.uniform(0, self.ceiling(n))
        if retry_after is not None:
            d = max(d, min(self.cap, retry_after))
        return d
