"""schemathesis over the OpenAPI schema against a live platform process on real PostgreSQL.

Bounded and deterministic (a fixed seed, a few examples per operation, the examples and fuzzing phases):
every generated request, authenticated as an admin's API token (demo_setup's), must get no server error (5xx), a
documented status code and a response matching the documented schema. Writes are real: the run
creates, changes and deletes objects of its own organisation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import psycopg
import pytest
import requests

from tests import services
from tests.helpers import REPO

pytestmark = pytest.mark.integration

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
MAX_EXAMPLES = 4
SEED = 20261207


def _database() -> str:
    name = (os.environ.get("GAIT_TEST_DB_NAME") or "test_gait") + "_schemathesis"
    admin = services.postgres_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return services.postgres_url(name)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    var = tmp_path_factory.mktemp("schemathesis-var")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL", "AWS_"))}
    env.update({"GAIT_ENV": "development", "GAIT_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "gaitsite.settings",
                "DATABASE_URL": _database(), "GAIT_API_RATE": "1000000/min", "GAIT_UPLOAD_RATE": "1000000/min",
                "GAIT_DEBUG": "0", "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])})
    manage = [sys.executable, str(REPO / "manage.py")]
    for cmd in (["migrate", "--noinput"], ["demo_setup", "--password", "demo-password-123"]):
        out = subprocess.run(manage + cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    token = re.search(r"(gait_\S+)", out.stdout).group(1)
    port = services.free_port()
    log = open(var / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "gaitsite.wsgi:application", "-b", f"127.0.0.1:{port}",
                             "--workers", "2", "--timeout", "120", "--log-level", "warning"],
                            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        services.wait_port("127.0.0.1", port, 60, proc)
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 30
        while requests.get(f"{url}/api/v1/me/", headers=auth, timeout=10).status_code != 200:
            assert time.monotonic() < deadline, (var / "server.log").read_text()[-3000:]
            time.sleep(0.2)
        # a few objects, so that reads and writes of existing ids are explored too
        cohort = requests.post(f"{url}/api/v1/cohorts/", json={"name": "st"}, headers=auth, timeout=10).json()
        requests.post(f"{url}/api/v1/subjects/", json={"cohort": cohort["id"], "external_id": "ST-1",
                                                       "birth_year": 1970, "sex": "female"}, headers=auth, timeout=10)
        yield {"url": url, "token": token, "var": var}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(server, tmp_path):
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{server['url']}/api/schema/",
           "--url", server["url"], "-H", f"Authorization: Bearer {server['token']}",
           "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
           "--phases", "examples,fuzzing", "--request-timeout", "30",
           "--suppress-health-check", "all", "--report", "ndjson", "--report-ndjson-path", str(report),
           # raw chunk bytes (application/offset+octet-stream) are tested in tests/platform/recordings; revoking
           # tokens by id would revoke the run's own token and leave the rest of the run at 401
           "--exclude-path-regex", r"/chunk/$|/tokens/\{id\}/revoke/$",
           "--no-color"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path,
                         env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    (server["var"] / "schemathesis.txt").write_text(out.stdout + out.stderr)
    print(out.stdout)
    summary = out.stdout[-6000:]
    assert out.returncode == 0, summary + out.stderr[-3000:] + (server["var"] / "server.log").read_text()[-3000:]
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", summary).groups())
    assert generated == passed and generated >= 150, summary
