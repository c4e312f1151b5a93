"""The image's role commands (k8s/images/entrypoint.sh) really start what the manifests expect:
a Celery worker on its queues that answers the probe's ping and gets the sweeper's message, then stops
on SIGTERM (the warm shutdown a scale-in relies on); gunicorn with the production config on $PORT.
Run from the repository, on the embedded database, with a real Redis as the broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests import services
from tests.helpers import REPO

ENTRY = str(REPO / "k8s" / "images" / "entrypoint.sh")
pytestmark = pytest.mark.integration


def _env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL", "AWS_", "DJANGO_"))}
    env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", "GAIT_ENV": "development",
                "GAIT_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'platform'}", **extra})
    return env


def _redis_db(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def test_worker_role_answers_the_probe_receives_the_sweep_and_stops_on_sigterm(tmp_path):
    broker = services.redis_url(10)  # this module's own Redis database, emptied first
    _redis_db(broker)
    host = f"k8s-test-{uuid.uuid4().hex[:8]}"
    env = _env(tmp_path, GAIT_BROKER_URL=broker, GAIT_RESULT_BACKEND=broker, HOSTNAME=host)
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - handed to the child
    worker = subprocess.Popen([ENTRY, "worker", "preprocess,default", "--concurrency", "1"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while f"preprocess@{host} ready." not in (tmp_path / "worker.log").read_text():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
        ping = subprocess.run([ENTRY, "ping", "preprocess"], env=env, capture_output=True, text=True, timeout=60)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert f"preprocess@{host}" in ping.stdout
        sweep = subprocess.run([ENTRY, "sweep"], env=env, capture_output=True, text=True, timeout=60)
        assert sweep.returncode == 0, sweep.stderr
        task_id = sweep.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 60
        while f"workers.pipeline.sweep[{task_id}]" not in (tmp_path / "worker.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
        os.kill(worker.pid, signal.SIGTERM)  # what Kubernetes sends to PID 1 (tini forwards it)
        assert worker.wait(timeout=60) == 0
        assert "warm shutdown" in (tmp_path / "worker.log").read_text().lower()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()


def test_web_role_serves_healthz_on_port(tmp_path):
    port = services.free_port()
    env = _env(tmp_path, PORT=str(port), WEB_CONCURRENCY="1")
    log = open(tmp_path / "web.log", "wb")  # noqa: SIM115 - handed to the child
    web = subprocess.Popen([ENTRY, "web"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"}, timeout=30)
                break
            except requests.RequestException:
                assert web.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
                assert time.monotonic() < deadline
                time.sleep(0.5)
        # the embedded database has no tables here: the probe answers, naming what is not ready
        assert r.status_code in (200, 503) and r.json()["status"] in ("ok", "unavailable")
        os.kill(web.pid, signal.SIGTERM)
        assert web.wait(timeout=60) == 0
    finally:
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait()
        log.close()


def _free_block(n: int = 5) -> int:
    """A port P with P..P+n-1 free (serve_champion puts management, metrics and gRPC at P+1..P+4)."""
    for _ in range(50):
        p = services.free_port()
        if p + n < 65535 and not any(services.port_open("127.0.0.1", p + i, 0.05) for i in range(n)):
            return p
    raise AssertionError("no block of free ports")


def test_serve_roles_fetch_the_champion_and_serve_it(tmp_path):
    """serve-fetch (the initContainer) then serve (the container), as the TorchServe pod runs them:
    the archive named by the pointer is loaded at start, as the default version, with the batch size set."""
    import numpy as np

    from serving.archive import build_archive
    from serving.client import TorchServeClient
    from tests.pipeline_support import checkpoint_version, require_java, tiny_checkpoint

    require_java()
    media = tmp_path / "media"
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    archive, version = build_archive(ckpt, media / "models" / "gaitmae")
    (media / "models" / "gaitmae" / "champion").write_text(f"models/gaitmae/{archive.name}\n")
    port = _free_block()
    env = _env(tmp_path, GAIT_STORAGE="local", GAIT_MEDIA_ROOT=str(media), GAIT_SERVE_DIR=str(tmp_path / "serve"),
               GAIT_SERVE_PORT=str(port), GAIT_SERVE_WORKERS="1", GAIT_SERVE_BATCH_SIZE="4",
               TMPDIR=str(tmp_path), TEMP=str(tmp_path), OMP_NUM_THREADS="1",
               LOG_LOCATION=str(tmp_path / "serve" / "logs"), METRICS_LOCATION=str(tmp_path / "serve" / "logs"))
    fetch = subprocess.run([ENTRY, "serve-fetch"], env=env, capture_output=True, text=True, timeout=120)
    assert fetch.returncode == 0, fetch.stderr
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - handed to the child
    serve = subprocess.Popen([ENTRY, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:  # the pod's startup/readiness probe: GET /ping
            try:
                if requests.get(url + "/ping", timeout=10).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or too busy starting to answer
                pass
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        rng = np.random.default_rng(0)
        windows = [rng.normal(size=(120, 26, 4)).astype(np.float32) for _ in range(3)]
        observed = [np.ones((120, 26), bool) for _ in range(3)]
        client = TorchServeClient(url)
        result = client.embed(windows, observed)
        assert result.embeddings.shape[0] == 3 and np.isfinite(result.reconstruction_error).all()
        # the champion answers as the default version (the client names no version)
        assert result.model_version == client.model_version() == checkpoint_version(ckpt)
        assert version in (tmp_path / "serve" / "config.properties").read_text()
        # registered from config.properties with the pod's batch size and workers (management: loopback only)
        (desc,) = requests.get(f"http://127.0.0.1:{port + 1}/models/gaitmae", timeout=10).json()
        assert desc["modelVersion"] == version and desc["batchSize"] == 4 and desc["minWorkers"] == 1
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
        time.sleep(1)
        try:
            os.killpg(serve.pid, signal.SIGKILL)  # the Java frontend, without tini's group signal
        except ProcessLookupError:
            pass
        log.close()


def _stop_group(proc) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the Java frontend, without tini's group signal
    except ProcessLookupError:
        pass


def test_serve_pod_follows_the_served_set_through_its_sidecar(tmp_path):
    """The TorchServe pod in cluster mode, its three containers as the manifests run them: serve-fetch
    loads the served set's default, serve starts TorchServe, serve-sync registers the set's other version
    and moves the default when the set does; serve-sync-check (the sidecar's readiness probe) fails until
    TorchServe serves the set's default."""
    from serving import served as served_set
    from serving.archive import build_archive
    from serving.client import TorchServeClient
    from tests.pipeline_support import checkpoint_version, require_java, tiny_checkpoint

    require_java()
    media = tmp_path / "media"
    ck1, ck2 = tiny_checkpoint(tmp_path / "c1", seed=1, run_id="pod-v1"), tiny_checkpoint(tmp_path / "c2", seed=2, run_id="pod-v2")
    a1, v1 = build_archive(ck1, tmp_path / "mar")
    a2, v2 = build_archive(ck2, tmp_path / "mar")
    store, key = served_set.pointer_store(str(media / "models" / "gaitmae" / "served.json"))
    entries = {v1: served_set.archive_entry(store, a1), v2: served_set.archive_entry(store, a2)}
    served_set.write(store, key, {"model": "gaitmae", "default": v1, "versions": {v1: entries[v1]}})
    port = _free_block()
    env = _env(tmp_path, GAIT_STORAGE="local", GAIT_MEDIA_ROOT=str(media), GAIT_SERVE_DIR=str(tmp_path / "serve"),
               GAIT_TORCHSERVE_SERVED_POINTER="models/gaitmae/served.json", GAIT_SERVE_SYNC_INTERVAL_S="1",
               GAIT_SERVE_PORT=str(port), GAIT_SERVE_WORKERS="1", GAIT_SERVE_BATCH_SIZE="4",
               TMPDIR=str(tmp_path), TEMP=str(tmp_path), OMP_NUM_THREADS="1",
               LOG_LOCATION=str(tmp_path / "serve" / "logs"), METRICS_LOCATION=str(tmp_path / "serve" / "logs"))
    fetch = subprocess.run([ENTRY, "serve-fetch"], env=env, capture_output=True, text=True, timeout=120)
    assert fetch.returncode == 0, fetch.stderr
    assert json.loads(fetch.stdout)["version"] == v1

    def ready() -> subprocess.CompletedProcess:
        return subprocess.run([ENTRY, "serve-sync-check"], env=env, capture_output=True, text=True, timeout=60)

    assert ready().returncode != 0  # nothing synced yet: not ready
    serve_log, sync_log = open(tmp_path / "serve.log", "wb"), open(tmp_path / "sync.log", "wb")  # noqa: SIM115
    serve = subprocess.Popen([ENTRY, "serve"], env=env, stdout=serve_log, stderr=subprocess.STDOUT, start_new_session=True)
    sync = subprocess.Popen([ENTRY, "serve-sync"], env=env, stdout=sync_log, stderr=subprocess.STDOUT, start_new_session=True)
    client = TorchServeClient(f"http://127.0.0.1:{port}")

    def until(what, fn, timeout=180):
        deadline = time.monotonic() + timeout
        while not fn():
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert sync.poll() is None, (tmp_path / "sync.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"{what}: " + (tmp_path / "sync.log").read_text()[-3000:]
            time.sleep(0.5)

    def default_is(ck) -> bool:
        try:
            return client.model_version() == checkpoint_version(ck)
        except Exception:  # noqa: BLE001 - not up yet
            return False

    try:
        until("ready on the set's default", lambda: ready().returncode == 0)
        assert default_is(ck1) and ready().stdout.strip() == f"serving the default {v1}"
        # a rollout lists v2, then makes it the default: the sidecar follows, the pod stays ready
        served_set.write(store, key, {"model": "gaitmae", "default": v1, "versions": entries})
        pinned = TorchServeClient(f"http://127.0.0.1:{port}", version=v2)

        def pinned_answers() -> bool:
            try:
                return pinned.model_version() == checkpoint_version(ck2)
            except Exception:  # noqa: BLE001 - not registered yet (404)
                return False

        until("v2 registered", pinned_answers)
        served_set.write(store, key, {"model": "gaitmae", "default": v2, "versions": entries})
        until("v2 the default", lambda: default_is(ck2))
        until("ready on v2", lambda: ready().stdout.strip() == f"serving the default {v2}")
        log = (tmp_path / "sync.log").read_text()
        assert f"registered gaitmae/{v2}" in log and f"default of gaitmae: {v1} -> {v2}" in log
        os.kill(sync.pid, signal.SIGTERM)  # the sidecar stops on TERM (its loop's wait is interrupted)
        assert sync.wait(timeout=30) == 0
    finally:
        if sync.poll() is None:
            os.killpg(sync.pid, signal.SIGKILL)
            sync.wait()
        _stop_group(serve)
        serve_log.close()
        sync_log.close()


def test_beat_role_puts_the_sweeper_on_the_list_keda_reads(tmp_path):
    """beat sends the sweeper (period from GAIT_PIPELINE_SWEEP_EVERY_S) to Redis list `preprocess`, the
    key the preprocess ScaledObject counts, and its probe (`beat-alive`) passes once it wrote its file."""
    import redis

    broker = services.redis_url(9)  # this test's own Redis database, emptied first
    _redis_db(broker)
    env = _env(tmp_path, GAIT_BROKER_URL=broker, GAIT_RESULT_BACKEND=broker, GAIT_PIPELINE_SWEEP_EVERY_S="1",
               TMPDIR=str(tmp_path))
    assert subprocess.run([ENTRY, "beat-alive"], env=env, timeout=30).returncode != 0  # nothing written yet
    log = open(tmp_path / "beat.log", "wb")  # noqa: SIM115 - handed to the child
    beat = subprocess.Popen([ENTRY, "beat"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        r = redis.Redis.from_url(broker)
        deadline = time.monotonic() + 90
        while r.llen("preprocess") < 1:
            assert beat.poll() is None, (tmp_path / "beat.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "beat.log").read_text()[-3000:]
            time.sleep(0.5)
        assert b"workers.pipeline.sweep" in r.lindex("preprocess", 0)
        assert subprocess.run([ENTRY, "beat-alive"], env=env, timeout=30).returncode == 0
        os.kill(beat.pid, signal.SIGTERM)
        assert beat.wait(timeout=30) == 0
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGKILL)
            beat.wait()
        log.close()
