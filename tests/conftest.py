"""Suite-wide fixtures. Service fixtures start real servers (see tests/services.py)."""

from __future__ import annotations

import pytest

from tests import services

@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        return services.redis_url(15)
    except services.ServiceUnavailable as exc:
        pytest.exit(str(exc), returncode=3)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    try:
        return services.postgres_url("postgres")
    except services.ServiceUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
