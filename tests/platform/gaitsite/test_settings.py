"""Settings load in both modes; a bad or missing production variable is named at start-up."""

import secrets

import pytest

from tests.helpers import run_python

SHOW = (
    "import django, os, json; os.environ['DJANGO_SETTINGS_MODULE'] = 'gaitsite.settings'; django.setup();"
    "from django.conf import settings as s;"
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'broker': s.CELERY_BROKER_URL,"
    " 'backend': s.CELERY_RESULT_BACKEND, 'storage': s.STORAGES['default']['BACKEND'],"
    " 'inference': s.INFERENCE_BACKEND, 'debug': s.DEBUG}))"
)


def production_env(postgres_url: str, redis_url: str) -> dict[str, str]:
    return {
        "GAIT_ENV": "production",
        "GAIT_SECRET_KEY": secrets.token_urlsafe(64),
        "GAIT_ALLOWED_HOSTS": "gait.example.org",
        "DATABASE_URL": postgres_url,
        "GAIT_BROKER_URL": redis_url,
        "GAIT_STORAGE": "s3",
        "GAIT_S3_BUCKET": "gait-sessions",
        "GAIT_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "GAIT_INFERENCE_BACKEND": "torchserve",
        "GAIT_TORCHSERVE_URL": "http://127.0.0.1:8080",
    }


def test_embedded_defaults(tmp_path):
    import json

    out = run_python(SHOW, {"GAIT_VAR_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    cfg = json.loads(out.stdout)
    assert cfg["engine"] == "django.db.backends.sqlite3"
    assert cfg["broker"] == f"sqla+sqlite:///{tmp_path}/broker.sqlite3"
    assert cfg["backend"].startswith("db+sqlite:///")
    assert cfg["storage"] == "django.core.files.storage.FileSystemStorage"
    assert cfg["inference"] == "inprocess"
    assert cfg["debug"] is True


@pytest.mark.integration
def test_production_settings_with_machine_services(postgres_url, redis_url):
    import json

    out = run_python(SHOW + ";from django.db import connection; connection.ensure_connection(); print(connection.vendor)",
                     production_env(postgres_url, redis_url))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    cfg = json.loads(lines[0])
    assert cfg["engine"] == "django.db.backends.postgresql"  # Django's own backend
    assert cfg["broker"] == redis_url and cfg["backend"] == redis_url
    assert cfg["storage"] == "storages.backends.s3.S3Storage"
    assert cfg["debug"] is False
    assert lines[1] == "postgresql"


@pytest.mark.integration
def test_check_deploy_is_clean(postgres_url, redis_url):
    code = "import sys; sys.argv = ['manage.py', 'check', '--deploy', '--fail-level', 'WARNING']; import runpy; runpy.run_path('manage.py', run_name='__main__')"
    out = run_python(code, production_env(postgres_url, redis_url))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


@pytest.mark.parametrize(
    "missing",
    ["GAIT_SECRET_KEY", "GAIT_ALLOWED_HOSTS", "DATABASE_URL", "GAIT_BROKER_URL", "GAIT_TORCHSERVE_URL"],
)
def test_missing_production_variable_is_named(missing):
    env = production_env("postgresql://postgres@127.0.0.1:5432/postgres", "redis://127.0.0.1:6379/0")
    del env[missing]
    out = run_python(SHOW, env)
    assert out.returncode != 0
    assert f"{missing} is required when GAIT_ENV=production" in out.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "sqlite:////tmp/x.sqlite3", "DATABASE_URL="),
        ("GAIT_BROKER_URL", "sqla+sqlite:////tmp/b.sqlite3", "GAIT_BROKER_URL="),
        ("GAIT_SECRET_KEY", "short", "GAIT_SECRET_KEY must be at least 50"),
        ("GAIT_STORAGE", "local", "GAIT_STORAGE must be 's3' in production"),
        ("GAIT_ALLOWED_HOSTS", "*", "GAIT_ALLOWED_HOSTS must list"),
        ("GAIT_ENV", "staging", "GAIT_ENV must be"),
    ],
)
def test_bad_production_variable_is_named(name, value, message):
    env = production_env("postgresql://postgres@127.0.0.1:5432/postgres", "redis://127.0.0.1:6379/0")
    env[name] = value
    out = run_python(SHOW, env)
    assert out.returncode != 0
    assert message in out.stderr


def test_manage_py_reports_configuration_error_without_traceback():
    out = run_python("import sys, runpy; sys.argv=['manage.py','check']; runpy.run_path('manage.py', run_name='__main__')",
                     {"GAIT_ENV": "production"})
    assert out.returncode != 0
    assert out.stderr.startswith("configuration error: GAIT_SECRET_KEY is required")
    assert "Traceback" not in out.stderr


def test_readme_documents_every_variable():
    from gaitsite.config import VARIABLES

    from tests.helpers import REPO

    readme = (REPO / "README.md").read_text()
    undocumented = [v.name for v in VARIABLES if f"| `{v.name}` |" not in readme]
    assert undocumented == []
