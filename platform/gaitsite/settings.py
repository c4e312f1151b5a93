"""Django settings of the gait platform. All inputs come from ``gaitsite.config.CONFIG``.

Read ``config.py`` for every variable, its default and its meaning.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .config import REPO_ROOT, Config

CONFIG = Config()
PRODUCTION = CONFIG.production

BASE_DIR = REPO_ROOT
VAR_DIR = Path(CONFIG.get("GAIT_VAR_DIR")).resolve()
if not PRODUCTION:
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # embedded SQLite files, media and logs live here

# --- Core ------------------------------------------------------------------------------------------
# Development only; production refuses to start without GAIT_SECRET_KEY:
_DEV_SECRET = "django-insecure-development-only-key-never-use-in-production-0123456789"  # nosec B105
SECRET_KEY = CONFIG.get("GAIT_SECRET_KEY") or _DEV_SECRET
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured("GAIT_SECRET_KEY must be at least 50 random characters in production")
DEBUG = False if PRODUCTION else CONFIG.flag("GAIT_DEBUG", default=True)
ALLOWED_HOSTS = CONFIG.list("GAIT_ALLOWED_HOSTS")
if PRODUCTION and (not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS):
    raise ImproperlyConfigured("GAIT_ALLOWED_HOSTS must list the site's host names in production (no '*')")
CSRF_TRUSTED_ORIGINS = CONFIG.list("GAIT_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "gaitsite",
    "tenancy",
    "cohorts",
    "recordings",
    "results",
    "registry",
    "dashboards",
    "demo",  # demo seeding and bench rows (no models)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "gaitsite.headers.NoStoreAPIMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tenancy.middleware.RequireSecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenancy.middleware.ClearOrganisationScopeMiddleware",
]

# Content-Security-Policy of every page (django-csp; see gaitsite/headers.py). The two third-party API
# documentation UIs (Swagger UI, ReDoc) initialise themselves with inline scripts and styles and show no
# organisation data: they are left out.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/schema/ui/", "/api/schema/redoc/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

ROOT_URLCONF = "gaitsite.urls"
WSGI_APPLICATION = "gaitsite.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- Database --------------------------------------------------------------------------------------
_db_default = f"sqlite:///{VAR_DIR / 'gait.sqlite3'}"
if PRODUCTION:
    _db_url = CONFIG.url("DATABASE_URL", ("postgres", "postgresql", "pgsql", "postgis"))
else:
    _db_url = CONFIG.url("DATABASE_URL", ("sqlite", "postgres", "postgresql", "pgsql", "postgis"), _db_default)
DATABASES = {"default": dj_database_url.parse(_db_url, conn_max_age=60, conn_health_checks=True)}
# PostgreSQL: parameters bound by the server, and a statement a connection runs a fifth time (psycopg's
# default threshold) is prepared, so PostgreSQL no longer parses and plans it on every run -- a third of
# its CPU per API request (measured with bench/api.py; see platform/README.md). Django leaves both off
# by default for connection poolers in transaction mode; this deployment connects directly.
POSTGRES_OPTIONS = {"server_side_binding": True, "prepare_threshold": 5}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"] = {**POSTGRES_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Storage ---------------------------------------------------------------------------------------
STORAGE_BACKEND = CONFIG.choice("GAIT_STORAGE", ("local", "s3"))
if PRODUCTION and STORAGE_BACKEND != "s3":
    raise ImproperlyConfigured("GAIT_STORAGE must be 's3' in production (set GAIT_S3_BUCKET and credentials)")
MEDIA_ROOT = Path(CONFIG.get("GAIT_MEDIA_ROOT") or VAR_DIR / "media").resolve()
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
if STORAGE_BACKEND == "s3":
    _bucket = CONFIG.get("GAIT_S3_BUCKET")
    if not _bucket:
        raise ImproperlyConfigured("GAIT_S3_BUCKET is required when GAIT_STORAGE=s3")
    _endpoint = CONFIG.get("GAIT_S3_ENDPOINT_URL")
    if _endpoint:
        CONFIG.url("GAIT_S3_ENDPOINT_URL", ("http", "https"))
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": _endpoint or None,
            "region_name": CONFIG.get("GAIT_S3_REGION"),
            "access_key": CONFIG.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": CONFIG.get("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "signature_version": "s3v4",
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Celery (read by workers/celery_app.py with namespace CELERY) ----------------------------------
if PRODUCTION:
    CELERY_BROKER_URL = CONFIG.url("GAIT_BROKER_URL", ("redis", "rediss", "amqp", "amqps"))
else:
    CELERY_BROKER_URL = CONFIG.url(
        "GAIT_BROKER_URL", ("redis", "rediss", "amqp", "amqps", "sqla+sqlite", "filesystem"),
        f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}",
    )
_result_default = (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis")
    else "rpc://" if CELERY_BROKER_URL.startswith("amqp")
    else f"db+sqlite:///{VAR_DIR / 'results.sqlite3'}"
)
CELERY_RESULT_BACKEND = CONFIG.get("GAIT_RESULT_BACKEND") or _result_default
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message per worker process at a time (long tasks spread over workers). The embedded SQLite broker
# takes 4: its synchronous consumer loop would otherwise wait 2 s between chained steps (workers/embedded_broker.py).
CELERY_WORKER_PREFETCH_MULTIPLIER = 4 if CELERY_BROKER_URL.startswith("sqla+") else 1
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"

# --- Inference -------------------------------------------------------------------------------------
INFERENCE_BACKEND = CONFIG.choice("GAIT_INFERENCE_BACKEND", ("inprocess", "torchserve"))
if PRODUCTION and INFERENCE_BACKEND != "torchserve":
    raise ImproperlyConfigured("GAIT_INFERENCE_BACKEND must be 'torchserve' in production")
TORCHSERVE_URL = (
    CONFIG.url("GAIT_TORCHSERVE_URL", ("http", "https")) if INFERENCE_BACKEND == "torchserve" else ""
)
TORCHSERVE_TOKEN_FILE = CONFIG.get("GAIT_TORCHSERVE_TOKEN_FILE")
MODEL_CHECKPOINT = CONFIG.get("GAIT_MODEL_CHECKPOINT")

# --- Auth, API -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
HEALTH_TOKEN = CONFIG.get("GAIT_HEALTH_TOKEN")
HEALTH_ALLOW_NETWORKS = CONFIG.list("GAIT_HEALTH_ALLOW_NETWORKS")

# Sign-in protection (tenancy/logins.py): failure throttling and TOTP for the roles named.
LOGIN_MAX_FAILURES = int(CONFIG.get("GAIT_LOGIN_MAX_FAILURES"))
LOGIN_MAX_FAILURES_PER_ADDRESS = int(CONFIG.get("GAIT_LOGIN_MAX_FAILURES_PER_ADDRESS"))
LOGIN_LOCKOUT_SECONDS = int(CONFIG.get("GAIT_LOGIN_LOCKOUT_SECONDS"))
TOTP_ROLES = CONFIG.list("GAIT_TOTP_ROLES")
if PRODUCTION and not {"owner", "admin"} <= set(TOTP_ROLES):
    raise ImproperlyConfigured("GAIT_TOTP_ROLES must include owner and admin in production")
OTP_TOTP_ISSUER = "Gait platform"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"  # our login page, not Django admin's "logged out" page
def _rate(name: str) -> str:
    value = CONFIG.get(name)
    num, _, period = value.partition("/")
    if not num.isdigit() or not period or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name} must look like '1200/min' (number/second|min|hour|day), not {value!r}")
    return value


_max_upload = CONFIG.get("GAIT_UPLOAD_MAX_BYTES")
if not _max_upload.isdigit() or int(_max_upload) < 1:
    raise ImproperlyConfigured(f"GAIT_UPLOAD_MAX_BYTES must be a positive number of bytes, not {_max_upload!r}")
UPLOAD_MAX_BYTES = int(_max_upload)
UPLOAD_S3_MIN_PART_BYTES = 5 * 1024 * 1024  # S3's minimum part size (tests lower it with moto's)

_cache_url = CONFIG.get("GAIT_CACHE_URL")
if _cache_url:
    CONFIG.url("GAIT_CACHE_URL", ("redis", "rediss"))
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2}}}  # throttles fail open fast
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenancy.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "gaitsite.api.FilterBackend",  # django-filter's backend, skipped when there is nothing to filter
        "gaitsite.api.OrderingFilter",  # DRF's, with the primary key appended: pages of any ordering are stable
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "gaitsite.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "tenancy.throttles.OrganisationRateThrottle",
        "tenancy.throttles.UploadRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"api": _rate("GAIT_API_RATE"), "upload": _rate("GAIT_UPLOAD_RATE")},
    "EXCEPTION_HANDLER": "gaitsite.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "gaitsite.renderers.JSONRenderer",  # DRF's, encoding with orjson
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gait platform API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "Multi-tenant API: every object belongs to the organisation of the token (or the "
                   "X-Organisation header for web sessions); other organisations' objects answer 404.",
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "gaitsite.openapi.add_error_responses"],
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "SessionStatusEnum": "recordings.models.SessionStatus.choices",
        "UploadStatusEnum": "recordings.models.UploadStatus.choices",
        "UploadModeEnum": "recordings.models.UploadMode.choices",
        "RoleEnum": "tenancy.models.Role.choices",
        "SexEnum": "cohorts.models.Sex.choices",
        "AliasNameEnum": "registry.models.AliasName.choices",
        "JobStateEnum": "registry.models.JobState.choices",
        "JobKindEnum": "registry.models.JobKind.choices",
        "FinetuneJobKindEnum": [("finetune-heads", "finetune-heads")],
        "PretrainJobKindEnum": [("pretrain-encoder", "pretrain-encoder")],
    },
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security (production) -------------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes from inside the cluster speak plain HTTP
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"level": CONFIG.get("GAIT_LOG_LEVEL").upper(), "handlers": ["console"], "propagate": False}
        for name in ("gaitsite", "tenancy", "cohorts", "recordings", "results", "workers", "serving")
    },
}
