"""Fixtures of the uploader's acceptance tests: a LIVE platform (gunicorn serving the Django site on a
free loopback port, SQLite database in a temporary GAIT_VAR_DIR, session files stored in moto's S3
server), seeded with ``manage.py demo_setup`` (organisation, subjects DEMO-001..003, an admin token),
a fault-injecting proxy in front of it, and a fresh client folder (GAIT_UPLOAD_HOME) per test.

``GAIT_UPLOAD_TEST_SERVER_ROOT`` runs the server from another checkout (default: this repository).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests import services
from tests.helpers import REPO
from tests.uploader.proxy import FaultProxy

SERVER_ROOT = Path(os.environ.get("GAIT_UPLOAD_TEST_SERVER_ROOT") or REPO)


def _server_env(var_dir: Path, s3_url: str, bucket: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL", "AWS_"))}
    env.update({
        "GAIT_ENV": "development", "GAIT_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "gaitsite.settings",
        "GAIT_STORAGE": "s3", "GAIT_S3_BUCKET": bucket, "GAIT_S3_ENDPOINT_URL": s3_url,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "GAIT_S3_REGION": "us-east-1",
        "GAIT_API_RATE": "100000/min", "GAIT_UPLOAD_RATE": "100000/min", "GAIT_DEBUG": "0",
        "PYTHONPATH": os.pathsep.join([str(SERVER_ROOT / "platform"), str(SERVER_ROOT)]),
    })
    return env


@pytest.fixture(scope="session")
def platform_server(moto_s3, tmp_path_factory):
    """{url, token, env, bucket, s3}: the platform running in its own process."""
    import boto3

    var_dir = tmp_path_factory.mktemp("gait-var")
    bucket = f"gait-upload-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    env = _server_env(var_dir, moto_s3, bucket)
    manage = [sys.executable, str(SERVER_ROOT / "manage.py")]
    for cmd in (["migrate", "--noinput"], ["demo_setup", "--password", "demo-password"]):
        out = subprocess.run(manage + cmd, env=env, cwd=SERVER_ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    token = re.search(r"(gait_\S+)", out.stdout).group(1)
    port = services.free_port()
    log = open(var_dir / "server.log", "w")  # noqa: SIM115 - closed at the end
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "gaitsite.wsgi:application", "-b", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--timeout", "120", "--log-level", "warning"],
        env=env, cwd=SERVER_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        services.wait_port("127.0.0.1", port, 60, proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while requests.get(f"{url}/api/v1/me/", headers={"Authorization": f"Bearer {token}"}).status_code != 200:
            assert time.monotonic() < deadline, (var_dir / "server.log").read_text()[-3000:]
            time.sleep(0.2)
        yield {"url": url, "port": port, "token": token, "env": env, "bucket": bucket, "s3": s3, "var_dir": var_dir}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def proxy(platform_server):
    p = FaultProxy(platform_server["port"]).start()
    yield p
    p.stop()


@pytest.fixture
def client_env(tmp_path) -> dict[str, str]:
    """Environment of the client processes: own GAIT_UPLOAD_HOME, fast backoff."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DJANGO_", "AWS_"))}
    env.update({"GAIT_UPLOAD_HOME": str(tmp_path / "client"), "GAIT_UPLOAD_BACKOFF_BASE": "0.05",
                "GAIT_UPLOAD_BACKOFF_CAP": "0.3", "GAIT_UPLOAD_RETRIES": "6", "COLUMNS": "200",
                "PYTHONPATH": str(REPO)})
    return env


def gait_upload(args: list[str], env: dict[str, str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run ``gait-upload ARGS`` in its own process (this checkout's code)."""
    return subprocess.run([sys.executable, "-c", "from uploader.cli import main; main()", *args], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=timeout, **kw)


def api(platform_server, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or platform_server['token']}"}
    return requests.request(method, f"{platform_server['url']}/api/v1/{path.lstrip('/')}", headers=headers, timeout=30, **kw)


def stored_bytes(platform_server, upload_id: str) -> bytes:
    """The accepted file as the server stored it in S3 (``sessions/<org>/<upload id>.gait.npz``)."""
    s3, bucket = platform_server["s3"], platform_server["bucket"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
            if o["Key"].endswith(f"{upload_id}.gait.npz")]
    assert len(keys) == 1, keys
    return s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
