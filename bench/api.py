"""API load benchmark: a real server process (gunicorn) on PostgreSQL under 50 concurrent clients.

    .venv/bin/python bench/api.py [--clients 50] [--duration 20] [--sessions 10000] [--workers 3 --threads 4]

Creates a throwaway database (``gait_bench_api_<pid>``) on the PostgreSQL server at 127.0.0.1:5432 (or
``--postgres-url``), migrates it, seeds 3 organisations with 10,000 sessions (plus cohorts, subjects and
one viewer token each), starts gunicorn on a free loopback port, and runs ``--clients`` concurrent
keep-alive HTTP clients (closed loop, no think time) for ``--duration`` seconds against the main list
and detail endpoints: session list (pages of 50, also filtered by status), session detail, subject list
and subject detail; every client uses its own organisation's token. Everything is stopped and the
database dropped at the end. Prints one JSON object: p50_ms, p90_ms, p99_ms, max_ms, rps, errors,
requests and the set-up. Progress goes to stderr. Loopback only; bounded by --duration plus set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]


def log(msg: str) -> None:
    print(f"[bench/api] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(admin_url: str, name: str, drop: bool = False) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(n_sessions: int, n_orgs: int = 3) -> list[dict]:
    """Migrate and seed through the ORM (in this process); returns per-org tokens and object ids."""
    import django

    django.setup()
    from cohorts.models import Cohort, Subject
    from django.core.management import call_command
    from recordings.models import GaitSession, SessionStatus
    from tenancy.actions import create_token
    from tenancy.audit import Actor
    from tenancy.models import Organisation, Role
    from tenancy.scope import organisation_scope

    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(7)
    statuses = [SessionStatus.DONE] * 6 + [SessionStatus.PROCESSING, SessionStatus.UPLOADED, SessionStatus.FAILED]
    out = []
    per_org = [n_sessions // n_orgs + (1 if i < n_sessions % n_orgs else 0) for i in range(n_orgs)]
    for i, n in enumerate(per_org):
        org = Organisation.objects.create(slug=f"bench-{i}", name=f"Bench clinic {i}")
        with organisation_scope(org):
            cohorts = [Cohort.objects.create(name=f"cohort {c}") for c in range(2)]
            subjects = Subject.objects.bulk_create([
                Subject(organisation=org, cohort=cohorts[s % 2], external_id=f"B{i}-{s:05d}", birth_year=1945 + s % 55,
                        sex="female" if s % 2 else "male", consent_research=True) for s in range(max(1, n // 15))])
            sessions = GaitSession.objects.bulk_create([
                GaitSession(organisation=org, subject=subjects[k % len(subjects)], sensor="azure_kinect",
                            tasks=["treadmill_3kmh", "walk_in_place", "sit_to_stand"], n_frames=9000,
                            duration_s=300.0, file_key=f"sessions/{org.pk}/{k}.gait.npz",
                            file_size=2_000_000 + k, sha256=f"{k:064x}", status=rng.choice(statuses))
                for k in range(n)], batch_size=2000)
            _, raw = create_token(Actor.system(), name="bench", role=Role.VIEWER)
        out.append({"token": raw, "sessions": [s.pk for s in sessions], "subjects": [s.pk for s in subjects]})
        log(f"seeded org {org.slug}: {n} sessions, {len(subjects)} subjects")
    from django.db import connection, connections

    with connection.cursor() as cur:  # fresh tables: give the planner statistics, as autovacuum would
        cur.execute("ANALYZE")
    connections.close_all()
    return out


async def client(host: str, port: int, org: dict, deadline: float, latencies: list, errors: list, rng: random.Random,
                 think_ms: float = 0.0):
    reader, writer = await asyncio.open_connection(host, port)
    auth = f"Authorization: Bearer {org['token']}\r\n"
    try:
        while time.perf_counter() < deadline:
            pick = rng.random()
            if pick < 0.35:
                kind, path = "session_list", f"/api/v1/sessions/?limit=50&offset={rng.randrange(0, 3000, 50)}"
            elif pick < 0.45:
                kind, path = "session_list_filtered", "/api/v1/sessions/?status=done&limit=50"
            elif pick < 0.75:
                kind, path = "session_detail", f"/api/v1/sessions/{rng.choice(org['sessions'])}/"
            elif pick < 0.9:
                kind, path = "subject_list", "/api/v1/subjects/?limit=50"
            else:
                kind, path = "subject_detail", f"/api/v1/subjects/{rng.choice(org['subjects'])}/"
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Accept: application/json\r\n\r\n".encode())
            try:
                status, body = await read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{path}: {type(exc).__name__}")
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append((kind, (time.perf_counter() - t0) * 1000))
            if status != 200:
                errors.append(f"{path}: HTTP {status} {body[:120]!r}")
            if think_ms:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think_ms / 1000)
    finally:
        writer.close()


async def read_response(reader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    return status, await reader.readexactly(length)


async def load(port: int, orgs: list[dict], clients: int, duration: float, think_ms: float = 0.0
               ) -> tuple[list, list, float]:
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    deadline = start + duration
    await asyncio.gather(*[client("127.0.0.1", port, orgs[i % len(orgs)], deadline, latencies, errors, random.Random(i), think_ms)
                           for i in range(clients)])
    return latencies, errors, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of measured load (max 300)")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--think-ms", type=float, default=0.0,
                    help="mean pause of each client between requests (0 = closed loop, as fast as the server answers)")
    ap.add_argument("--postgres-url", default="", help="server URL with a role that may CREATE DATABASE")
    args = ap.parse_args()
    duration = min(args.duration, 300.0)

    if args.postgres_url:
        admin = args.postgres_url.rsplit("/", 1)[0] + "/postgres"
    else:
        from tests.services import postgres_url

        admin = postgres_url("postgres")
    dbname = f"gait_bench_api_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + f"/{dbname}"
    var = tempfile.mkdtemp(prefix="gait-bench-api-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL"))}
    env.update({"GAIT_ENV": "development", "GAIT_DEBUG": "0", "GAIT_VAR_DIR": var, "DATABASE_URL": db_url,
                "GAIT_API_RATE": "100000000/min", "DJANGO_SETTINGS_MODULE": "gaitsite.settings",
                "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])})
    os.environ.update(env)
    create_database(admin, dbname)
    server = None
    try:
        t0 = time.perf_counter()
        orgs = seed(args.sessions)
        log(f"seeded {args.sessions} sessions in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        server = subprocess.Popen(
            [str(gunicorn), "gaitsite.wsgi:application", "-b", f"127.0.0.1:{port}", "--workers", str(args.workers),
             "--worker-class", "gthread", "--threads", str(args.threads), "--keep-alive", "30",
             "--log-level", "warning"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(Path(var) / "gunicorn.log", "w"))  # noqa: SIM115
        deadline = time.time() + 60
        import urllib.request

        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/me/",
                                             headers={"Authorization": f"Bearer {orgs[0]['token']}"})
                if urllib.request.urlopen(req, timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError(f"gunicorn did not come up; see {var}/gunicorn.log")
            time.sleep(0.2)
        log(f"gunicorn up on 127.0.0.1:{port} ({args.workers} workers x {args.threads} threads); warming up")
        asyncio.run(load(port, orgs, args.clients, args.warmup))
        log(f"measuring {args.clients} clients for {duration:.0f} s")
        timed, errors, elapsed = asyncio.run(load(port, orgs, args.clients, duration, args.think_ms))
        latencies = [ms for _, ms in timed]
        by_kind: dict[str, list[float]] = {}
        for kind, ms in timed:
            by_kind.setdefault(kind, []).append(ms)
        result = {
            "p50_ms": round(percentile(latencies, 50), 2),
            "p90_ms": round(percentile(latencies, 90), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2) if latencies else None,
            "rps": round(len(latencies) / elapsed, 1),
            "errors": len(errors),
            "error_examples": errors[:5],
            "requests": len(latencies),
            "duration_s": round(elapsed, 1),
            "clients": args.clients,
            "think_ms": args.think_ms,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "sessions": args.sessions,
            "organisations": len(orgs),
            "server": {"gunicorn_workers": args.workers, "threads": args.threads, "cpus": os.cpu_count()},
            "by_endpoint": {k: {"n": len(v), "p50_ms": round(percentile(v, 50), 2), "p99_ms": round(percentile(v, 99), 2)}
                            for k, v in sorted(by_kind.items())},
            "goal": {"p99_ms_below": 150, "errors": 0},
        }
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        try:
            create_database(admin, dbname, drop=True)
        except Exception as exc:  # noqa: BLE001
            log(f"could not drop {dbname}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
