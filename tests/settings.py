"""Django settings of the test suite: development settings on a throwaway folder, PostgreSQL database.

``GAIT_TEST_DB=sqlite`` runs the suite on SQLite instead (the embedded default).
"""

import os
import tempfile

os.environ.setdefault("GAIT_VAR_DIR", tempfile.mkdtemp(prefix="gait-test-var-"))
os.environ["GAIT_ENV"] = "development"

import dj_database_url  # noqa: E402
from gaitsite.settings import *  # noqa: E402,F403

from tests.services import postgres_url  # noqa: E402

if os.environ.get("GAIT_TEST_DB", "postgres") != "sqlite":
    DATABASES = {"default": dj_database_url.parse(postgres_url("gait"), conn_max_age=0)}
    DATABASES["default"]["OPTIONS"] = dict(POSTGRES_OPTIONS)  # noqa: F405 - the production database options
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
if os.environ.get("GAIT_TEST_DB_NAME"):  # concurrent runs on one server need distinct test databases
    DATABASES["default"]["TEST"] = {"NAME": os.environ["GAIT_TEST_DB_NAME"]}
