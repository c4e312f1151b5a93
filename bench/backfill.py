"""The backfill of an encoder rollout: sessions re-embedded per minute, wall time, peak memory.

    .venv/bin/python bench/backfill.py [--sessions 1000] [--organisations 4] [--concurrency 2]
                                       [--checkpoint PATH | --config tiny|small] [--variants 20] [--postgres-url URL]

Creates a throwaway database (``gait_bench_backfill_<pid>``) on the PostgreSQL server at 127.0.0.1:5432
(or ``--postgres-url``) and a private Redis (``tests/services.py``) as the broker, migrates, seeds
``--organisations`` organisations with ``--sessions`` ``done`` sessions in all (``tests/registry_support``:
one per subject, features + an embedding row of the shipped encoder) and gives every session the
preprocess step's windows file of a real synthetic recording (``--variants`` distinct recordings of the
5-task protocol at duration scale 0.17: 3 model windows of 300-320 valid frames each, as in the pipeline
tests). The new encoder is a ``tiny`` GaitMAE (120-frame context, seeded, untrained: inference costs the
same as a trained one) written to a file:// store and registered as a candidate, unless ``--checkpoint``.

Then one real Celery worker process (prefork, ``--concurrency`` children of one torch thread each, all
queues, in-process inference) runs the rollout started through ``registry.rollouts.start_rollout``: every
session gets the pipeline tail again (embed with the new version -> predict -> aggregate, ``backfill=True``)
in batches of ``GAIT_ROLLOUT_BATCH`` (50), then the rollout goes on (no organisation has heads; no file
predictor is configured, so none blocks) and goes live. Progress (read from the rollout row) on stderr.

Prints one JSON object: ``backfill_s`` (rollout start -> every session has an embedding of the new
version), ``sessions_per_min`` (= sessions / backfill_s), ``rollout_s`` (start -> live and finished),
``peak_rss_mib`` (the largest worker process), the encoder, sizes, cores, load average. The database is
dropped at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]

from pgdb import create_database  # noqa: E402 - bench/ is the script's folder, first on sys.path


def log(msg: str) -> None:
    print(f"[bench/backfill] {msg}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--organisations", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=2, help="worker children (one torch thread each)")
    ap.add_argument("--checkpoint", default="", help="the new encoder (default: a seeded tiny one)")
    ap.add_argument("--config", default="tiny", choices=["tiny", "small"],
                    help="without --checkpoint: the config of the seeded, untrained new encoder (small = the shipped "
                         "encoder's architecture and inference cost)")
    ap.add_argument("--variants", type=int, default=20, help="distinct recordings whose windows the sessions get")
    ap.add_argument("--postgres-url", default="", help="server URL with a role that may CREATE DATABASE")
    args = ap.parse_args()

    from tests.services import postgres_url, redis_url

    admin = args.postgres_url.rsplit("/", 1)[0] + "/postgres" if args.postgres_url else postgres_url("postgres")
    dbname = f"gait_bench_backfill_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + f"/{dbname}"
    broker = redis_url(15)
    var = tempfile.mkdtemp(prefix="gait-bench-backfill-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL"))}
    env.update({"GAIT_ENV": "development", "GAIT_VAR_DIR": var, "DATABASE_URL": db_url,
                "DJANGO_SETTINGS_MODULE": "gaitsite.settings", "GAIT_BROKER_URL": broker,
                "GAIT_RESULT_BACKEND": broker, "GAIT_INFERENCE_BACKEND": "inprocess", "OMP_NUM_THREADS": "1",
                "GAIT_ROLLOUT_TICK_S": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])})
    os.environ.update(env)
    create_database(admin, dbname)
    worker = None
    try:
        import django
        import redis

        django.setup()
        redis.Redis.from_url(broker).flushdb()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from recordings import storage
        from registry import actions, rollouts
        from registry.models import EncoderRollout
        from tenancy.audit import Actor
        from tenancy.models import Organisation

        from gaitcore.model.checkpoint import load_checkpoint, weights_digest
        from tests.pipeline_support import tiny_checkpoint, windows_npz
        from tests.registry_support import seed_organisation
        from workers.steps import windows_name

        t0 = time.perf_counter()
        blobs = [windows_npz(200 + k) for k in range(args.variants)]
        log(f"{args.variants} recordings preprocessed in {time.perf_counter() - t0:.1f} s")
        per = [args.sessions // args.organisations + (k < args.sessions % args.organisations)
               for k in range(args.organisations)]
        n = 0
        for k, count in enumerate(per):
            org = Organisation.objects.create(slug=f"bench-{k}", name=f"Bench clinic {k}")
            data = seed_organisation(org, count, first=1 + 10_000 * k, prefix=f"O{k}-")
            for s in data["sessions"]:
                storage.save_exact(windows_name(s), blobs[n % len(blobs)])
                n += 1
            log(f"seeded {n}/{args.sessions} sessions")

        if args.checkpoint:
            ckpt_path = Path(args.checkpoint)
        elif args.config == "tiny":
            ckpt_path = tiny_checkpoint(Path(var) / "store", seed=11, run_id="bench-backfill")
        else:
            import torch

            from gaitcore.model.checkpoint import save_checkpoint
            from gaitcore.model.gaitmae import GaitMAE, get_config
            from gaitcore.preprocess import PREPROCESSING_VERSION

            torch.manual_seed(11)
            ckpt_path = save_checkpoint(Path(var) / "store" / "gaitmae-small-bench.pt", GaitMAE(get_config("small")),
                                        PREPROCESSING_VERSION, meta={"run_id": "bench-backfill-small"})
        ckpt = load_checkpoint(ckpt_path)
        enc = actions.register_encoder(Actor.system(), version_tag=ckpt.version_tag, config_name=ckpt.config.name,
                                       weights_digest=weights_digest(ckpt.model()),
                                       artifact_uri=f"file://{ckpt_path.resolve()}",
                                       file_sha256=hashlib.sha256(ckpt_path.read_bytes()).hexdigest())
        log(f"new encoder {enc.version_tag} ({ckpt.config.name})")

        wlog = open(Path(var) / "worker.log", "w")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "prefork",
             "--concurrency", str(args.concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-l", "warning", "-n", f"bench-{os.getpid()}@%h"],
            env=env, cwd=REPO, stdout=wlog, stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(3)
        from django.db import transaction

        t_start = time.perf_counter()
        with transaction.atomic():
            r = rollouts.start_rollout(Actor.system(), enc)
        t_backfill = None
        last = None
        while True:
            time.sleep(1.0)
            row = EncoderRollout.objects.get(pk=r.pk)
            p = row.progress
            status = (row.state, p.get("embedded"), p.get("total"))
            if status != last:
                last = status
                log(f"{row.state}: embedded {p.get('embedded')}/{p.get('total')} eta {p.get('eta_s')} s "
                    f"({time.perf_counter() - t_start:.0f} s)")
            if t_backfill is None and row.state not in ("queued", "preparing", "backfilling"):
                t_backfill = time.perf_counter() - t_start
            if row.state in ("failed", "blocked", "rolled-back") or (row.state == "live" and row.finished_at):
                break
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited: {(Path(var) / 'worker.log').read_text()[-3000:]}")
        wall = time.perf_counter() - t_start
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)
        wlog.close()
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out = {
            "sessions": args.sessions, "organisations": args.organisations, "state": row.state, "reason": row.reason,
            "encoder": enc.version_tag, "encoder_config": ckpt.config.name,
            "windows_per_session": 3, "valid_frames_per_window": "300-320",
            "worker_concurrency": args.concurrency, "torch_threads_per_child": 1,
            "backfill_s": round(t_backfill, 1) if t_backfill else None,
            "sessions_per_min": round(args.sessions / t_backfill * 60, 1) if t_backfill else None,
            "rollout_s": round(wall, 1), "skipped": len(row.progress.get("skipped") or {}),
            "peak_rss_mib": round(peak_kib / 1024, 1), "cores": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(out))
        return 0 if row.state == "live" else 1
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        from django.db import connections

        connections.close_all()
        create_database(admin, dbname, drop=True)
        import shutil

        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
