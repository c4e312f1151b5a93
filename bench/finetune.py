"""A ``finetune-heads`` training job on a synthetic organisation: wall time and peak memory.

    .venv/bin/python bench/finetune.py [--subjects 1000] [--targets 20] [--dim 1024] [--seeds 1]
                                       [--postgres-url URL]

Creates a throwaway database (``gait_bench_finetune_<pid>``) on the PostgreSQL server at 127.0.0.1:5432 (or
``--postgres-url``), migrates it, seeds one organisation with ``--subjects`` consenting subjects, one
processed session each (engineered + body-size features and a ``--dim``-d embedding row: the size of the
shipped GaitMAE embedding, 4 regions x 2 statistics x 128; see tests/registry_support.py for what the
values are) and a label table of ``--targets`` targets (age, BMI and the generator's phenotypes), uploads
nothing else, creates the job through ``registry.actions.start_job`` (snapshot frozen as in the API) and
runs it with ``workers.training.run_job`` in a child process -- what a Celery worker of the ``training``
queue runs, minus the broker. Progress (fold, target, ETA, read back from the job row) goes to stderr.

Prints one JSON object: ``wall_s`` (the child process, start to exit, Django start-up included),
``job_s`` (the job's started_at -> finished_at), ``fit_s`` (the heads' fitting), ``peak_rss_mib`` (of the
child process), the job's state, the representations that won, CV R^2 of the age head, sizes, cores and
the load average. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]

from pgdb import create_database  # noqa: E402 - bench/ is the script's folder, first on sys.path


def log(msg: str) -> None:
    print(f"[bench/finetune] {msg}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--dim", type=int, default=1024, help="embedding width (the shipped encoder: 1024)")
    ap.add_argument("--seeds", type=int, default=1, help="repeats of the nested CV (the job's default: 1)")
    ap.add_argument("--postgres-url", default="", help="server URL with a role that may CREATE DATABASE")
    args = ap.parse_args()

    if args.postgres_url:
        admin = args.postgres_url.rsplit("/", 1)[0] + "/postgres"
    else:
        from tests.services import postgres_url

        admin = postgres_url("postgres")
    dbname = f"gait_bench_finetune_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + f"/{dbname}"
    var = tempfile.mkdtemp(prefix="gait-bench-finetune-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL"))}
    env.update({"GAIT_ENV": "development", "GAIT_VAR_DIR": var, "DATABASE_URL": db_url,
                "DJANGO_SETTINGS_MODULE": "gaitsite.settings", "GAIT_BROKER_URL": f"filesystem://{var}/broker",
                "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])})
    os.environ.update(env)
    create_database(admin, dbname)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from cohorts.actions import import_phenotype_table
        from registry import actions
        from registry.models import TrainingJob
        from tenancy.audit import Actor
        from tenancy.models import Organisation
        from tenancy.scope import organisation_scope

        from tests.registry_support import many_targets, seed_organisation

        org = Organisation.objects.create(slug="bench", name="Bench clinic")
        targets = many_targets(args.targets)
        t0 = time.perf_counter()
        data = seed_organisation(org, args.subjects, targets=targets, dim=args.dim,
                                 progress=lambda k: log(f"seeded {k}/{args.subjects} subjects"))
        log(f"seeded {args.subjects} subjects in {time.perf_counter() - t0:.1f} s")
        with organisation_scope(org):
            table = import_phenotype_table(Actor.system(), name="bench labels", cohort=data["cohort"],
                                           data=data["csv"].encode())
            actions.send_task = lambda *a: None  # no broker: the job runs below, in a child process
            job = actions.start_job(Actor.system(), kind="finetune-heads", label_table=table,
                                    config={"seeds": args.seeds})
        log(f"job {job.pk}: snapshot of {len(job.snapshot['sessions'])} sessions, {len(targets)} targets")

        stop = threading.Event()

        def watch():
            last = None
            while not stop.wait(2.0):
                p = TrainingJob.unscoped.filter(pk=job.pk).values_list("state", "progress").first()
                if p and p != last:
                    last = p
                    pr = p[1] or {}
                    log(f"{p[0]}: {pr.get('stage')} {pr.get('target', '')} fold {pr.get('fold', '-')}/"
                        f"{pr.get('folds', '-')} done {pr.get('done')}/{pr.get('total')} eta {pr.get('eta_s')} s")

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        code = ("import django; django.setup(); from workers.training import run_job; "
                f"print(run_job({job.pk}))")
        t1 = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - t1
        stop.set()
        watcher.join()
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if child.returncode:
            log(child.stderr[-3000:])
        job.refresh_from_db()
        won: dict[str, int] = {}
        for rep in (job.metrics.get("representation") or {}).values():
            won[rep] = won.get(rep, 0) + 1
        age = {k: round(v["r2"]["mean"], 3) for k, v in (job.metrics.get("cv") or {}).items() if k.startswith("age@")}
        out = {
            "subjects": args.subjects, "targets": len(targets), "embedding_dim": args.dim, "cv_seeds": args.seeds,
            "sessions": len(job.snapshot["sessions"]), "state": job.state, "reason": job.reason,
            "wall_s": round(wall, 1),
            "job_s": round((job.finished_at - job.started_at).total_seconds(), 1) if job.finished_at and job.started_at else None,
            "fit_s": job.metrics.get("fit_s"), "peak_rss_mib": round(peak_kib / 1024, 1),
            "representations_won": won, "age_cv_r2": age, "heads": len(job.metrics.get("cv") or {}),
            "cores": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(out))
        return 0 if job.state == "succeeded" else 1
    finally:
        from django.db import connections

        connections.close_all()
        create_database(admin, dbname, drop=True)


if __name__ == "__main__":
    sys.exit(main())
