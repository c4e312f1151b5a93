"""Fault injection on a production-like pipeline (issue 28): private PostgreSQL, Redis and TorchServe
started by this module (so they can be killed and restarted), a real Celery worker and celery beat
running the sweeper, sweeper timings shortened by settings.

Faults, one after the other, each on two fresh sessions uploaded through the upload actions (after a
reference run without a fault):

1. ``kill -9`` of the worker in the middle of the embed step, then a new worker;
2. a Redis (broker) restart without persistence: every queued and unacknowledged message is lost;
3. a PostgreSQL restart while sessions are processed;
4. TorchServe stopped for longer than the stuck threshold, then started again.

Each fault asserts: every session ends ``done``, exactly one ``session.done`` event per session, no state
went backwards, every non-final state seen carried a reason, no duplicate result rows. The time until
every session was final and the reasons seen meanwhile are printed (``-s``) as a table
(docs/experiments/2026-12-07-pipeline-faults.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.helpers import REPO
from tests.pipeline_support import (
    TorchServeInstance,
    Worker,
    checkpoint_version,
    fit_predictor,
    tiny_checkpoint,
)
from tests.services import _pg_bin, free_port, wait_port

pytestmark = pytest.mark.integration

RANK = {"uploaded": 0, "validating": 1, "processing": 2, "done": 3, "failed": 3}
TIMINGS = {"GAIT_PIPELINE_LEASE_S": "6", "GAIT_PIPELINE_SWEEP_EVERY_S": "2", "GAIT_PIPELINE_STUCK_AFTER_S": "15",
           "GAIT_PIPELINE_RETRY_FOR_S": "300", "GAIT_PIPELINE_RETRY_BACKOFF_S": "0.5",
           "GAIT_PIPELINE_RETRY_BACKOFF_MAX_S": "3", "GAIT_BROKER_VISIBILITY_TIMEOUT": "3600"}


class Postgres:
    """A private PostgreSQL server in ``folder`` that can be killed and started again on the same port."""

    def __init__(self):
        # its own temporary folder: pytest's tmp_path is private to root, and the server may run as 'postgres'
        self.folder, self.port, self.proc = Path(tempfile.mkdtemp(prefix="gait-faults-pg-")), free_port(), None
        initdb = _pg_bin("initdb")
        if not initdb or not shutil.which("redis-server"):
            pytest.fail("the fault tests start their own PostgreSQL and Redis, to kill and restart them: install "
                        "`postgresql` (initdb, postgres) and `redis-server`; these tests are never skipped", pytrace=False)
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses root
            shutil.chown(self.folder, "postgres")
            self.as_user = [shutil.which("runuser"), "-u", "postgres", "--"]
        subprocess.run([*self.as_user, initdb, "-D", str(self.folder / "db"), "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*self.as_user, _pg_bin("postgres") or "postgres", "-D", str(self.folder / "db"), "-p", str(self.port),
             "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port("127.0.0.1", self.port, 30, self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # accepting connections (not "starting up")
            try:
                psycopg.connect(self.url + "/postgres", connect_timeout=2).close()
                return
            except psycopg.Error:
                time.sleep(0.2)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:  # the postmaster itself (the process we started may be runuser)
                pid = int((self.folder / "db" / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGQUIT)  # immediate shutdown: every connection is cut
            except (OSError, ValueError, IndexError):
                self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait(30)

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class Redis:
    def __init__(self):
        self.port, self.proc = free_port(), None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port("127.0.0.1", self.port, 15, self.proc)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Monitor(threading.Thread):
    """Polls the sessions every 0.2 s: state sequences, reasons shown, when each became final."""

    def __init__(self, url: str, ids: list[int]):
        super().__init__(daemon=True)
        self.url, self.ids, self.stop = url, ids, threading.Event()
        self.seen: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
        self.final_at: dict[int, float] = {}
        self.t0 = time.monotonic()

    def run(self) -> None:
        conn = None
        while not self.stop.is_set():
            try:
                conn = conn or psycopg.connect(self.url, connect_timeout=2, autocommit=True)
                rows = conn.execute("SELECT id, status, status_reason FROM recordings_gaitsession WHERE id = ANY(%s)",
                                    [self.ids]).fetchall()
            except psycopg.Error:
                conn = None  # the database is being restarted
                time.sleep(0.2)
                continue
            for sid, status, reason in rows:
                if not self.seen[sid] or self.seen[sid][-1] != (status, reason):
                    self.seen[sid].append((status, reason))
                if status in ("done", "failed") and sid not in self.final_at:
                    self.final_at[sid] = time.monotonic() - self.t0
            time.sleep(0.2)

    def wait_final(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.final_at) < len(self.ids):
            time.sleep(0.2)
        self.stop.set()
        self.join(5)
        assert len(self.final_at) == len(self.ids), f"not final after {timeout} s: {self.last()}"
        return max(self.final_at.values())

    def last(self) -> dict:
        return {sid: seq[-1] if seq else None for sid, seq in self.seen.items()}

    def reasons(self) -> list[str]:
        out = []
        for seq in self.seen.values():
            for status, reason in seq:
                if status not in ("done", "failed"):
                    short = reason.split(" (")[0].split(":")[0] if not reason.startswith("re-queued") else (
                        reason.split(";")[0])
                    if short not in out:
                        out.append(short)
        return out


class Pipeline:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.pg = Postgres()
        self.pg.start()
        self.redis = Redis()
        self.redis.start()
        ckpt = tiny_checkpoint(tmp / "ckpt")
        predictor = fit_predictor(tmp / "predictor", checkpoint_version(ckpt), dim=32)
        self.ts = TorchServeInstance(tmp / "ts", ckpt).start()
        self.env = {"DATABASE_URL": self.pg.url + "/gait", "GAIT_BROKER_URL": self.redis.url,
                    "GAIT_RESULT_BACKEND": self.redis.url, "GAIT_VAR_DIR": str(tmp / "var"),
                    "GAIT_INFERENCE_BACKEND": "torchserve", "GAIT_TORCHSERVE_URL": self.ts.url,
                    "GAIT_PREDICTOR": str(predictor), **TIMINGS}
        with psycopg.connect(self.pg.url + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE gait")
        self.driver("migrate")
        self.workers: list[Worker] = []
        self.beat = self._beat()

    def driver(self, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL"))}
        env.update(self.env | {"OMP_NUM_THREADS": "1", "DJANGO_SETTINGS_MODULE": "gaitsite.settings"})
        r = subprocess.run([sys.executable, str(REPO / "tests/workers/fault_driver.py"), *args], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def seed(self, n: int, seed: int) -> list[int]:
        return json.loads(self.driver("seed", "--sessions", str(n), "--seed", str(seed)).strip().splitlines()[-1])

    def worker(self, **env) -> Worker:
        w = Worker(self.env | env, self.tmp / f"worker-{len(self.workers)}.log").start()
        self.workers.append(w)
        return w

    def _beat(self) -> subprocess.Popen:
        from tests.pipeline_support import _die_with_parent

        env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL"))}
        env.update(self.env | {"DJANGO_SETTINGS_MODULE": "gaitsite.settings",
                               "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])})
        log = open(self.tmp / "beat.log", "a")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat", "-l", "info",
                                 "-s", str(self.tmp / "beat-schedule")], env=env, cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        log.close()
        return proc

    def query(self, sql: str, *params) -> list[tuple]:
        with psycopg.connect(self.pg.url + "/gait", autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def monitor(self, ids: list[int]) -> Monitor:
        m = Monitor(self.pg.url + "/gait", ids)
        m.start()
        return m

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        if self.beat.poll() is None:
            self.beat.terminate()
            self.beat.wait(20)
        self.ts.stop()
        self.redis.kill()
        self.pg.remove()


def check(p: Pipeline, m: Monitor, fault: str, took: float, results: list) -> None:
    ids = m.ids
    rows = dict(p.query("SELECT id, status FROM recordings_gaitsession WHERE id = ANY(%s)", ids))
    assert set(rows.values()) == {"done"}, rows
    done_events = dict(p.query("SELECT object_id::int, count(*) FROM tenancy_auditevent WHERE action = 'session.done' "
                               "AND object_id = ANY(%s) GROUP BY object_id", [str(i) for i in ids]))
    assert done_events == {i: 1 for i in ids}, done_events
    for sid, seq in m.seen.items():
        ranks = [RANK[s] for s, _ in seq]
        assert ranks == sorted(ranks), f"session {sid} went backwards: {seq}"
        assert all(r for s, r in seq if s not in ("done", "failed")), f"session {sid}: a state without reason: {seq}"
    for table, key in [("results_embedding", "session_id, task, model_name, model_version"),
                       ("results_prediction", "session_id, phenotype, model_name, model_version"),
                       ("results_taskfeatures", "session_id, task"), ("results_qcreport", "session_id")]:
        dup = p.query(f"SELECT {key}, count(*) FROM {table} WHERE session_id = ANY(%s) GROUP BY {key} "  # noqa: S608
                      "HAVING count(*) > 1", ids)
        assert not dup, (table, dup)
    n_pred = p.query("SELECT count(*) FROM results_prediction WHERE session_id = ANY(%s)", ids)[0][0]
    assert n_pred > 0
    attempts = [a for (a,) in p.query("SELECT attempts FROM recordings_gaitsession WHERE id = ANY(%s)", ids)]
    results.append({"fault": fault, "sessions": len(ids), "final_after_s": round(took, 1),
                    "attempts": sorted(attempts), "reasons": m.reasons()})


def test_sessions_survive_worker_broker_database_and_inference_faults(tmp_path):
    p = Pipeline(tmp_path)
    results: list[dict] = []
    try:
        # 0. no fault: the reference time of two sessions on this machine
        w = p.worker()
        ids = p.seed(2, seed=0)
        m = p.monitor(ids)
        check(p, m, "none (reference)", m.wait_final(240), results)
        w.stop()

        # 1. kill -9 of the worker mid-embed; a new worker takes over when the lease expires (6 s here)
        w = p.worker(GAIT_PIPELINE_DELAY="embed:6")
        ids = p.seed(2, seed=1)
        m = p.monitor(ids)
        w.wait_log("embed: injected delay", timeout=180)
        w.kill()
        p.worker()
        check(p, m, "worker killed (-9) mid-embed", m.wait_final(240), results)

        # 2. Redis restarted without persistence while the sessions' messages wait in its queue (no worker):
        #    the messages are gone; the sweeper finds them missing from the broker and sends them again
        for w in p.workers:
            w.stop()
        ids = p.seed(2, seed=2)
        m = p.monitor(ids)
        p.redis.kill()
        time.sleep(1.0)
        p.redis.start()
        p.worker()
        check(p, m, "broker (Redis) restarted, queued messages lost", m.wait_final(240), results)
        assert all(a == 2 for a in results[-1]["attempts"]), results[-1]  # each was re-queued once

        # 3. PostgreSQL restarted while a step computes (its write transaction then meets the restart)
        for w in p.workers:
            w.stop()
        w = p.worker(GAIT_PIPELINE_DELAY="features:4")
        ids = p.seed(2, seed=3)
        m = p.monitor(ids)
        w.wait_log("features: injected delay", timeout=180)
        p.pg.kill()
        time.sleep(2.0)
        p.pg.start()
        check(p, m, "database (PostgreSQL) restarted", m.wait_final(240), results)

        # 4. TorchServe down for longer than the stuck threshold (15 s here): waiting, not re-queued or failed
        p.ts.stop()
        ids = p.seed(2, seed=4)
        m = p.monitor(ids)
        time.sleep(int(TIMINGS["GAIT_PIPELINE_STUCK_AFTER_S"]) + 15)
        during = p.query("SELECT status, attempts FROM recordings_gaitsession WHERE id = ANY(%s)", ids)
        assert all(s != "failed" and a == 1 for s, a in during), during
        p.ts.start()  # registers again the version it served (served.json)
        check(p, m, "inference server (TorchServe) down 30 s (> stuck threshold)", m.wait_final(240), results)
    except BaseException:
        for w in p.workers:
            print(w.log()[-4000:])
        print((tmp_path / "beat.log").read_text()[-2000:] if (tmp_path / "beat.log").exists() else "")
        raise
    finally:
        print("\nFAULTS " + json.dumps(results, indent=1))
        p.close()
        out = os.environ.get("GAIT_FAULTS_REPORT")
        if out:
            Path(out).write_text(json.dumps(results, indent=1))
