"""Dashboard render benchmark: the cohort health profile of a 1,000-subject cohort, on PostgreSQL.

    .venv/bin/python bench/dashboard.py [--subjects 1000] [--repeats 15] [--postgres-url URL]

Creates a throwaway database (``gait_bench_dash_<pid>``) on the PostgreSQL server at 127.0.0.1:5432 (or
``--postgres-url``), migrates it, seeds one organisation with a cohort of ``--subjects`` synthetic subjects
(about half of them with two visits) WITH synthetic result rows -- QC, drawn features and 19 predictions per
session, written straight into the tables by ``demo.benchdata`` (bench data, NOT model output; the demo
goes through the real pipeline instead) -- plus a second cohort of a fifth of the size for the side-by-side view, runs
ANALYZE, then renders pages in this process through the whole Django stack (middleware, scope, queries,
templates; Django's test client, no network) ``--repeats`` times each after one warm-up. Prints JSON:
``cohort_profile_ms`` (median), the other pages' medians, p90s, query counts and the set-up. The database
is dropped at the end. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]

from pgdb import create_database  # noqa: E402 - bench/ is the script's folder, first on sys.path


def log(msg: str) -> None:
    print(f"[bench/dashboard] {msg}", file=sys.stderr, flush=True)


def run(n_subjects: int, repeats: int) -> dict:
    import django

    django.setup()
    from demo.benchdata import seed_bench_cohort
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from results.models import Prediction
    from tenancy.models import Membership, Organisation, Role
    from tenancy.scope import organisation_scope

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    org = Organisation.objects.create(slug="bench", name="Bench clinic")
    user = get_user_model().objects.create_user("bench-clinician", password="x" * 12)
    with organisation_scope(org):
        Membership.objects.create(user=user, role=Role.CLINICIAN)
        big = seed_bench_cohort(org, cohort_name="Bench cohort", n_subjects=n_subjects, seed=1, prefix="B",
                          features="drawn", store_files=False, failed=5, in_flight=5, qc_warnings=10)
        small = seed_bench_cohort(org, cohort_name="Bench comparison", n_subjects=max(10, n_subjects // 5), seed=2,
                            prefix="C", features="drawn", store_files=False)
        n_preds = Prediction.objects.count()
        subject = big.subjects.order_by("external_id").first()
    seed_s = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    log(f"seeded {n_subjects} subjects, {n_preds} predictions in {seed_s:.1f} s")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    pages = {
        "cohort_profile": f"/dashboard/cohorts/{big.pk}/",
        "cohort_profile_filtered": f"/dashboard/cohorts/{big.pk}/?sex=female&age=40-59",
        "cohort_compare": f"/dashboard/cohorts/{big.pk}/?compare={small.pk}",
        "home": "/dashboard/",
        "subject_report": f"/dashboard/subjects/{subject.pk}/",
    }
    out = {}
    for name, url in pages.items():
        assert client.get(url).status_code == 200, url  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            r = client.get(url)
            times.append(1000 * (time.perf_counter() - t))
            assert r.status_code == 200
        with CaptureQueriesContext(connection) as q:
            client.get(url)
        out[f"{name}_ms"] = round(statistics.median(times), 1)
        out[f"{name}_p90_ms"] = round(sorted(times)[int(0.9 * (len(times) - 1))], 1)
        out[f"{name}_queries"] = len(q)
        log(f"{name}: median {out[f'{name}_ms']} ms, {len(q)} queries")
    out.update({"subjects": n_subjects, "predictions": n_preds, "repeats": repeats, "seed_s": round(seed_s, 1),
                "goal_cohort_profile_ms": 1000, "database": "postgresql",
                "measured": "server-side: Django test client through the full middleware/template stack"})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--postgres-url", default="")
    args = ap.parse_args()
    if args.postgres_url:
        admin = args.postgres_url.rsplit("/", 1)[0] + "/postgres"
    else:
        from tests.services import postgres_url

        admin = postgres_url("postgres")
    dbname = f"gait_bench_dash_{os.getpid()}"
    for k in [k for k in os.environ if k.startswith(("GAIT_", "DATABASE_URL"))]:
        del os.environ[k]
    os.environ.update({"GAIT_ENV": "development", "GAIT_DEBUG": "0", "GAIT_VAR_DIR": tempfile.mkdtemp(prefix="gait-bench-dash-"),
                       "DATABASE_URL": admin.rsplit("/", 1)[0] + f"/{dbname}", "DJANGO_SETTINGS_MODULE": "gaitsite.settings"})
    create_database(admin, dbname)
    try:
        result = run(args.subjects, args.repeats)
    finally:
        from django.db import connections

        connections.close_all()
        create_database(admin, dbname, drop=True)
    print(json.dumps(result, indent=1))
    return 0 if result["cohort_profile_ms"] < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
