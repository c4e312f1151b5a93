"""Every environment variable the platform reads, with its embedded default and its meaning.

This is the one settings object of the platform (as DRF has ``api_settings``): ``settings.py`` reads
variables only through ``CONFIG``; the README's configuration table is this table. Two modes:

* ``GAIT_ENV=development`` (default): embedded defaults that need no server -- SQLite, local media
  files, an SQLite-backed Celery broker consumed by a real worker process, in-process inference.
* ``GAIT_ENV=production``: every variable marked *required in production* must be set and valid; a bad
  or missing one stops start-up with ``ImproperlyConfigured`` naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Var:
    name: str
    default: str | None  # development default ("" = empty); None = no default
    help: str
    required_in_production: bool = False


VARIABLES: tuple[Var, ...] = (
    Var("GAIT_ENV", "development", "`development` (embedded defaults) or `production` (strict)."),
    Var("GAIT_VAR_DIR", str(REPO_ROOT / "var"), "Folder for the embedded SQLite files, media and logs."),
    Var("GAIT_SECRET_KEY", "", "Django secret key (>= 50 random characters). Development: a fixed insecure key.", True),
    Var("GAIT_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]", "Comma-separated host names the site answers.", True),
    Var("GAIT_CSRF_TRUSTED_ORIGINS", "", "Comma-separated origins (https://host) trusted for CSRF."),
    Var("GAIT_DEBUG", "", "Django DEBUG (`1`/`0`); default on in development, always off in production."),
    Var("DATABASE_URL", "", "Database URL; development default `sqlite:///$GAIT_VAR_DIR/gait.sqlite3`. "
        "Production: `postgres://user:pass@host:5432/db` (psycopg 3).", True),
    Var("GAIT_BROKER_URL", "", "Celery broker; development default `sqla+sqlite:///$GAIT_VAR_DIR/broker.sqlite3`. "
        "Production: `redis://host:6379/0` or `amqp://user:pass@host:5672//`.", True),
    Var("GAIT_RESULT_BACKEND", "", "Celery result backend; development default `db+sqlite:///$GAIT_VAR_DIR/results.sqlite3`; "
        "production default: the Redis broker URL, or `rpc://` with RabbitMQ."),
    Var("GAIT_STORAGE", "local", "`local` (files under GAIT_MEDIA_ROOT) or `s3` (production requires `s3`)."),
    Var("GAIT_MEDIA_ROOT", "", "Local media folder; default `$GAIT_VAR_DIR/media`."),
    Var("GAIT_S3_BUCKET", "", "S3 bucket for session files and artefacts (required when GAIT_STORAGE=s3)."),
    Var("GAIT_S3_ENDPOINT_URL", "", "S3 endpoint URL (empty = AWS; set for MinIO, moto, ...)."),
    Var("GAIT_S3_REGION", "us-east-1", "S3 region."),
    Var("AWS_ACCESS_KEY_ID", "", "S3 access key (empty = the instance's role / default credential chain)."),
    Var("AWS_SECRET_ACCESS_KEY", "", "S3 secret key."),
    Var("GAIT_INFERENCE_BACKEND", "inprocess", "`inprocess` (the worker loads the checkpoint with torch) or "
        "`torchserve` (production requires `torchserve`)."),
    Var("GAIT_TORCHSERVE_URL", "", "TorchServe inference URL, e.g. `http://127.0.0.1:8080` (required with torchserve)."),
    Var("GAIT_TORCHSERVE_TOKEN_FILE", "", "File holding TorchServe's inference key (token authorisation)."),
    Var("GAIT_MODEL_CHECKPOINT", "", "GaitMAE checkpoint for in-process inference (default: the shipped demo checkpoint)."),
    Var("GAIT_LOG_LEVEL", "INFO", "Log level of the platform's loggers."),
    Var("GAIT_CACHE_URL", "", "Cache for API throttling counters: empty = per-process memory; "
        "`redis://host:6379/1` shares them between server processes (use it in production)."),
    Var("GAIT_API_RATE", "1200/min", "API requests allowed per token (or per web user), e.g. `1200/min`, `50000/hour`."),
    Var("GAIT_UPLOAD_RATE", "120/hour", "Uploads a token (or web user) may start, e.g. `120/hour`."),
    Var("GAIT_UPLOAD_MAX_BYTES", "268435456", "Largest session file accepted by the upload API, in bytes (256 MiB)."),
    Var("GAIT_HEALTH_TOKEN", "", "Bearer token that lets a caller see /healthz's details (parts, failures); "
        "others get the status only."),
    Var("GAIT_HEALTH_ALLOW_NETWORKS", "127.0.0.1/32,::1/128", "Comma-separated networks (CIDR) whose callers see "
        "/healthz's details without the token."),
    Var("GAIT_LOGIN_MAX_FAILURES", "5", "Failed sign-ins after which an account is locked for the lockout window."),
    Var("GAIT_LOGIN_MAX_FAILURES_PER_ADDRESS", "30", "Failed sign-ins from one address (any account) per lockout window."),
    Var("GAIT_LOGIN_LOCKOUT_SECONDS", "900", "The sign-in failure window and lockout, in seconds."),
    Var("GAIT_TOTP_ROLES", "owner,admin", "Roles (in any organisation) that sign in with a TOTP code; staff always do. "
        "Empty: no second factor (never in production)."),
)
_BY_NAME = {v.name: v for v in VARIABLES}


class Config:
    """Reads ``VARIABLES`` from an environment mapping and validates them for the mode."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.env = self.get("GAIT_ENV").strip().lower()
        if self.env not in ("development", "production"):
            raise ImproperlyConfigured(f"GAIT_ENV must be 'development' or 'production', not {self.env!r}")

    @property
    def production(self) -> bool:
        return self.env == "production"

    def get(self, name: str) -> str:
        var = _BY_NAME[name]
        value = self.environ.get(name, "").strip()
        if value:
            return value
        if getattr(self, "env", "development") == "production" and var.required_in_production:
            raise ImproperlyConfigured(
                f"{name} is required when GAIT_ENV=production and is not set. {var.help}"
            )
        return var.default or ""

    def list(self, name: str) -> list[str]:
        return [p.strip() for p in self.get(name).split(",") if p.strip()]

    def flag(self, name: str, default: bool) -> bool:
        value = self.get(name).lower()
        if not value:
            return default
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ImproperlyConfigured(f"{name} must be 1/0/true/false, not {value!r}")

    def url(self, name: str, schemes: tuple[str, ...], default: str = "") -> str:
        value = self.get(name) or default
        if not value:
            mode = "GAIT_ENV=production" if self.production else "this configuration"
            raise ImproperlyConfigured(f"{name} is required when {mode} and is not set. {_BY_NAME[name].help}")
        scheme = urlparse(value).scheme
        if scheme not in schemes:
            raise ImproperlyConfigured(
                f"{name}={_redact(value)!r} has scheme {scheme!r}; expected one of: {', '.join(schemes)}"
            )
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.get(name).lower()
        if value not in choices:
            raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value


def _redact(url: str) -> str:
    p = urlparse(url)
    if p.password:
        return url.replace(f":{p.password}@", ":***@")
    return url
