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


@pytest.fixture(scope="session")
def moto_s3() -> str:
    """URL of a moto S3 server for this test session (started once, stopped at exit)."""
    try:
        return services.moto_s3_url()
    except services.ServiceUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
