"""Shared parts of the serving and pipeline integration tests (importable, unlike conftest.py).

* :func:`tiny_checkpoint` -- a seeded ``tiny`` GaitMAE checkpoint (fast on 2 cores).
* :func:`fit_predictor` -- a small predictor artifact fitted on random embeddings of that checkpoint's
  version (only to exercise the predict step; its values mean nothing).
* :class:`TorchServeInstance` -- TorchServe on loopback with free ports, its own run/TEMP dir, token auth
  off, the checkpoint registered with batch 8. Fails (never skips) with a clear message without Java.
* :class:`Worker` -- a real Celery worker process with a given environment, its log in a file.
* :func:`synthetic_session_bytes` -- a short 5-task synthetic session file.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO
from tests.services import free_port

TINY_RUN_ID = "test-tiny"


def tiny_checkpoint(folder: Path, seed: int = 0, run_id: str = TINY_RUN_ID) -> Path:
    """``tiny`` with 120-frame temporal context (as ``small``): about 2x faster on 900-frame windows."""
    import dataclasses

    import torch

    from gaitcore.model.checkpoint import save_checkpoint
    from gaitcore.model.gaitmae import GaitMAE, get_config
    from gaitcore.preprocess import PREPROCESSING_VERSION

    torch.manual_seed(seed)
    model = GaitMAE(dataclasses.replace(get_config("tiny"), context_frames=120))
    return save_checkpoint(Path(folder) / f"gaitmae-tiny-{run_id}.pt", model, PREPROCESSING_VERSION,
                           meta={"run_id": run_id})


def checkpoint_version(path: Path) -> str:
    from gaitcore.model.checkpoint import load_checkpoint

    return load_checkpoint(path).version_tag


def fit_predictor(folder: Path, version: str, dim: int, n: int = 40, seed: int = 0) -> Path:
    from gaitcore.model.embedding import embedding_columns
    from gaitcore.probe.predictor import Predictor

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8 * dim))
    Y = np.c_[50 + 10 * X[:, 0] + rng.normal(size=n), 25 + 3 * X[:, 1] + rng.normal(size=n)]
    pred = Predictor.fit(X, embedding_columns(dim), Y, ["age", "bmi"], np.arange(n), None,
                         embedding_model_version=version, cohort="synthetic", source="tests: random embeddings",
                         task_mode="mean", seeds=1)
    return pred.save(folder)


# At duration scale 0.17 the three walking tasks last >= 10.2 s (>= 300 frames: a model window each) and
# sit-to-stand and Romberg 5.1 s (no window; their pauses do not count since preprocessing 1.1).
WINDOWED_TASKS = 3


def synthetic_session_bytes(seed: int = 0, index: int = 0, duration_scale: float = 0.17) -> bytes:
    """A 5-task synthetic session (~1,800 frames: ``WINDOWED_TASKS`` model windows) as .gait.npz bytes."""
    from gaitcore.sessionfile import to_bytes
    from gaitcore.synth.cohort import build_session

    session, _ = build_session(seed, index, duration_scale=duration_scale)
    return to_bytes(session)


def windows_npz(seed: int) -> bytes:
    """The preprocess step's windows file of a real synthetic recording (what ``workers.steps`` stores)."""
    from gaitcore.preprocess import PREPROCESSING_VERSION, model_windows, preprocess
    from gaitcore.sessionfile import from_bytes

    x, mask, wins = model_windows(preprocess(from_bytes(synthetic_session_bytes(seed=seed))))
    buf = io.BytesIO()
    np.savez(buf, x=x, mask=mask, n_valid=np.array([w.n_valid for w in wins], np.int64),
             tasks=np.array([w.task for w in wins]), version=np.array(PREPROCESSING_VERSION))
    return buf.getvalue()


def store_windows(sessions, variants: int = 4) -> None:
    """Give done sessions seeded without the pipeline the windows file the embed step reads (``variants``
    distinct real recordings, round robin), so a backfill can re-embed them."""
    from recordings import storage

    from workers.steps import windows_name

    blobs = [windows_npz(100 + k) for k in range(variants)]
    for i, s in enumerate(sessions):
        storage.save_exact(windows_name(s), blobs[i % variants])


def require_java() -> None:
    from serving.server import java_available

    if not java_available():
        pytest.fail("TorchServe tests need Java 17 (`java` not found on PATH): install openjdk-17-jre-headless; "
                    "these tests are never skipped", pytrace=False)


class TorchServeInstance:
    """One TorchServe on loopback in ``run_dir`` with ``checkpoint`` registered as the default model."""

    def __init__(self, run_dir: Path, checkpoint: Path, workers: int = 1, batch_size: int = 8):
        from serving.config import ServeConfig

        require_java()
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self.workers = workers
        self.cfg = ServeConfig(run_dir=Path(run_dir), inference_port=free_port(), management_port=free_port(),
                               metrics_port=free_port(), grpc_inference_port=free_port(),
                               grpc_management_port=free_port(), token_auth=False, workers=workers, batch_size=batch_size)
        self.archive = None
        self.version = None

    @property
    def url(self) -> str:
        return self.cfg.inference_url

    def start(self) -> TorchServeInstance:
        from serving import server
        from serving.archive import build_archive
        from serving.management import ManagementClient

        if self.archive is None:
            self.archive, self.version = build_archive(self.checkpoint, self.cfg.model_store)
        server.start(self.cfg)  # a restart registers again what the instance served (served.json)
        m = ManagementClient(self.cfg.management_url, state_file=server.state_file(self.cfg.run_dir))
        if self.version not in {v.get("modelVersion") for v in m.versions("gaitmae")}:
            m.register(self.archive.name, model_name="gaitmae", batch_size=self.batch_size, max_batch_delay_ms=10,
                       workers=self.workers, version=self.version)
            m.set_default("gaitmae", self.version)
        return self

    def stop(self) -> None:
        from serving import server

        server.stop(self.cfg.run_dir)


def db_url() -> str:
    """URL of the database the test process uses right now (pytest-django's test database)."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies (a killed pytest run must not
    leave workers behind that would consume the next run's messages). Linux only; a no-op elsewhere."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Worker:
    """A real ``celery worker`` process (prefork, one child: time limits and worker-lost handling apply)."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env = env
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL", "AWS_"))}
        env.update(self.env)
        env.update({"DJANGO_SETTINGS_MODULE": "gaitsite.settings", "OMP_NUM_THREADS": "1",
                    "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])})
        log = open(self.log_path, "a")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "prefork",
             "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info",
             "-n", f"test-{time.time_ns()}@%h"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def wait_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not in the worker log after {timeout} s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool child (the whole process group)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class WorkerHarness:
    """Real Celery worker processes for an integration test, and the API side's sends routed to them.

    An API-side Celery app on ``broker`` (the workers' routes and queues, plus ``routes``) receives what
    ``registry.actions.send_task`` sends by name; ``extra_patches(celery)`` adds patches of other senders.
    ``worker(**env)`` starts one more worker with ``base_env | env``; ``close()`` stops them all."""

    def __init__(self, tmp_path, broker: str, env: dict | None = None, routes: dict | None = None,
                 extra_patches=lambda celery: [], set_as_current: bool = True):
        from unittest import mock

        from celery import Celery
        from django.conf import settings

        from workers.celery_app import app

        self.tmp, self.broker = tmp_path, broker
        self.env = {"DATABASE_URL": db_url(), "GAIT_BROKER_URL": broker, "GAIT_RESULT_BACKEND": broker,
                    "GAIT_VAR_DIR": str(settings.VAR_DIR), "GAIT_JOB_HEARTBEAT_S": "0.5", **(env or {})}
        self.celery = Celery(broker=broker, set_as_current=set_as_current)
        self.celery.conf.task_routes = {**app.conf.task_routes, **(routes or {})}
        self.celery.conf.task_queues = app.conf.task_queues

        def send(name, args, queue, kwargs=None):
            self.celery.send_task(name, args=args, kwargs=kwargs, queue=queue)

        self.patches = [mock.patch("registry.actions.send_task", side_effect=send), *extra_patches(self.celery)]
        for p in self.patches:
            p.start()
        self.workers: list[Worker] = []

    def worker(self, **env) -> Worker:
        w = Worker(self.env | env, self.tmp / f"worker-{len(self.workers)}.log").start()
        self.workers.append(w)
        return w

    def logs(self) -> str:
        return "\n".join(w.log()[-4000:] for w in self.workers)

    def close(self):
        for w in self.workers:
            w.stop()
        for p in self.patches:
            p.stop()
        self.celery.close()
