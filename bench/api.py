"""API load benchmark: a real server process (gunicorn) on PostgreSQL under 50 concurrent clients.

    .venv/bin/python bench/api.py [--clients 50] [--duration 20] [--windows 1] [--sessions 10000]
                                  [--workers N] [--threads N] [--worker-class sync|gthread]

Creates a throwaway database (``gait_bench_api_<pid>``) on the PostgreSQL server at 127.0.0.1:5432 (or
``--postgres-url``), migrates it, seeds 3 organisations with 10,000 sessions (plus cohorts, subjects and
one viewer token each), vacuums and analyses it (as autovacuum would after the inserts), points the cache
(the per-token throttle's counters) at Redis as production does (``--cache-url``), starts
gunicorn on a free loopback port with the production settings file ``platform/gaitsite/gunicorn.conf.py``
(``--workers``/``--threads``/``--worker-class`` override it), and runs ``--clients`` concurrent HTTP/1.1
clients (closed loop, no think time) for ``--duration`` seconds against the main list and detail
endpoints: session list (pages of 50 at random offsets, also filtered by status), session detail,
subject list and subject detail; every client uses its own organisation's token. The clients are
coroutines of one event loop (uvloop when installed, ``--loop``) writing raw requests (cheap, so the load
generator takes little of the CPU the server shares with it); a connection is kept alive unless the server
closes it (synchronous workers answer ``Connection: close``), and then the next request's time includes the
new connection.
Everything is stopped and the database dropped at the end.

Prints one JSON object: p50_ms, p90_ms, p99_ms, max_ms, rps, errors, requests, per-endpoint
percentiles, the set-up (worker class, workers, threads, client kind, cores, load average, cache) and the
CPU time per request of the server processes, the PostgreSQL backends, Redis and the load generator over the
measured window. With ``--windows N`` it measures N windows in a row on the same server and data and adds
each window's figures and the median of their p99 (the top level pools all windows). The load generator's
CPU per request is fixed work, so it doubles as a yardstick of the host's speed during the window (this
VM's speed drifts by tens of percent over minutes; compare runs at similar load generator CPU, or
interleave them). Progress goes to stderr. Loopback only; bounded by --duration plus set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]

from pgdb import create_database  # noqa: E402 - bench/ is the script's folder, first on sys.path


def log(msg: str) -> None:
    print(f"[bench/api] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        # Fresh tables: statistics for the planner and the visibility map for index-only scans, as
        # autovacuum gives a table after inserts.
        conn.execute("VACUUM ANALYZE")
    return out


async def client(host: str, port: int, org: dict, deadline: float, latencies: list, errors: list, rng: random.Random,
                 think_ms: float = 0.0):
    reader = writer = None
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
            try:
                if writer is None:  # first request, or the server closed the previous connection
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Accept: application/json\r\n\r\n".encode())
                status, body, keep = await read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{path}: {type(exc).__name__}")
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            latencies.append((kind, (time.perf_counter() - t0) * 1000))
            if not keep:
                writer.close()
                reader = writer = None
            if status != 200:
                errors.append(f"{path}: HTTP {status} {body[:120]!r}")
            if think_ms:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think_ms / 1000)
    finally:
        if writer is not None:
            writer.close()


async def read_response(reader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked, keep = 0, False, True
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        elif k == "connection" and "close" in v.lower():
            keep = False
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body, keep
            body += chunk[:-2]
    return status, await reader.readexactly(length), keep


async def load(port: int, orgs: list[dict], clients: int, duration: float, think_ms: float = 0.0,
               progress: bool = False) -> tuple[list, list, float]:
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    deadline = start + duration

    async def report():
        while True:
            await asyncio.sleep(5)
            log(f"  {time.perf_counter() - start:4.0f} s: {len(latencies)} requests, {len(errors)} errors")

    reporter = asyncio.create_task(report()) if progress else None
    await asyncio.gather(*[client("127.0.0.1", port, orgs[i % len(orgs)], deadline, latencies, errors, random.Random(i), think_ms)
                           for i in range(clients)])
    if reporter is not None:
        reporter.cancel()
    return latencies, errors, time.perf_counter() - start


def run_loop(coro, loop: str):
    """Run the load generator's coroutine on uvloop (less CPU per connection than asyncio's own loop,
    so less of the shared cores goes to the load generator) or on asyncio's loop."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def default_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _proc_children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _redis_pids() -> list[int]:
    """Processes named redis-server (the machine's Redis serves the throttle; other users of it count too)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "redis-server":
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def _proc_cpu_s(pids: list[int]) -> float | None:
    """User + system CPU seconds of these processes (Linux /proc); None where that cannot be read (a process
    that ended: the server recycles its database connections after CONN_MAX_AGE, 60 s, so with --windows a
    window's PostgreSQL figure is now and then null, and the pooled one covers the windows that have it)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _postgres_backends(admin_url: str, dbname: str) -> list[int]:
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (dbname,))]
    except psycopg.Error:
        return []


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def _delta(before, after):
    return None if before is None or after is None else after - before


def _cpu_ms_per_request(windows: list) -> dict:
    """CPU ms per request over these windows, for each kind of process over the windows where it was read."""
    out = {}
    for k in windows[0][3]:
        read = [(w[3][k], len(w[0])) for w in windows if w[3][k] is not None]
        n = sum(r for _, r in read)
        out[k] = round(sum(c for c, _ in read) * 1000 / n, 3) if n else None
    return out


def _by_kind(timed) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for kind, ms in timed:
        out.setdefault(kind, []).append(ms)
    return out


def summary(windows: list) -> dict:
    """Latency percentiles, throughput, errors and CPU ms per request of one measured window or several
    (each ``(timed, errors, elapsed, cpu_s)``)."""
    timed = [t for win in windows for t in win[0]]
    errors = [e for win in windows for e in win[1]]
    elapsed = sum(win[2] for win in windows)
    latencies = [ms for _, ms in timed]
    n = len(latencies)
    return {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p90_ms": round(percentile(latencies, 90), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "rps": round(n / elapsed, 1),
        "errors": len(errors),
        "error_examples": errors[:5],
        "requests": n,
        "duration_s": round(elapsed, 1),
        "cpu_ms_per_request": _cpu_ms_per_request(windows),
    }


def main() -> int:
    args = _arguments()
    duration = min(args.duration, 300.0)
    admin, dbname, env, cache_url = _environment(args)
    var = env["GAIT_VAR_DIR"]
    os.environ.update(env)
    create_database(admin, dbname)
    server = None
    try:
        t0 = time.perf_counter()
        orgs = seed(args.sessions)
        log(f"seeded {args.sessions} sessions in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        server, gunicorn_info = _start_gunicorn(args, env, var, port)
        _wait_until_up(server, port, orgs[0]["token"], var)
        log(f"gunicorn up on 127.0.0.1:{port} ({gunicorn_info['worker_class']}, {gunicorn_info['workers']} workers x "
            f"{gunicorn_info['threads']} threads); warming up")
        run_loop(load(port, orgs, args.clients, args.warmup), args.loop)
        windows = _measure(args, duration, port, orgs, server, admin, dbname, cache_url)
        print(json.dumps(_result(args, windows, orgs, gunicorn_info, cache_url), indent=2))
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


def _arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of measured load (max 300)")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--windows", type=int, default=1,
                    help="measured windows of --duration each on the same server and data: the JSON then also "
                         "lists each window and the median of their p99 (the top level pools them all)")
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=None, help="default: the production settings file")
    ap.add_argument("--threads", type=int, default=None, help="default: the production settings file")
    ap.add_argument("--worker-class", default=None, help="default: the production settings file")
    ap.add_argument("--think-ms", type=float, default=0.0,
                    help="mean pause of each client between requests (0 = closed loop, as fast as the server answers)")
    ap.add_argument("--cache-url", default=None,
                    help="the cache (per-token throttle counters) as production configures it: default the Redis "
                         "on 127.0.0.1:6379 (db 11; tests.services.redis_url), 'locmem' for per-process memory")
    ap.add_argument("--loop", choices=["uvloop", "asyncio"], default=default_loop(),
                    help="the load generator's event loop (default: uvloop when installed)")
    ap.add_argument("--postgres-url", default="", help="server URL with a role that may CREATE DATABASE")
    args = ap.parse_args()
    if args.windows < 1:
        ap.error("--windows must be at least 1")
    return args


def _environment(args: argparse.Namespace) -> tuple[str, str, dict[str, str], str]:
    """(the PostgreSQL admin URL, the benchmark's own database name, the server's environment, the cache
    URL or "" for per-process memory). The environment drops every GAIT_* variable of the caller."""
    if args.postgres_url:
        admin = args.postgres_url.rsplit("/", 1)[0] + "/postgres"
    else:
        from tests.services import postgres_url

        admin = postgres_url("postgres")
    dbname = f"gait_bench_api_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + f"/{dbname}"
    var = tempfile.mkdtemp(prefix="gait-bench-api-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAIT_", "DATABASE_URL"))}
    if args.cache_url == "locmem":
        cache_url = ""
    else:
        from tests.services import redis_url

        cache_url = args.cache_url or redis_url(11)
    env.update({"GAIT_CACHE_URL": cache_url} if cache_url else {})
    env.update({"GAIT_ENV": "development", "GAIT_DEBUG": "0", "GAIT_VAR_DIR": var, "DATABASE_URL": db_url,
                "GAIT_API_RATE": "100000000/min", "DJANGO_SETTINGS_MODULE": "gaitsite.settings",
                "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])})
    return admin, dbname, env, cache_url


def _start_gunicorn(args: argparse.Namespace, env: dict[str, str], var: str, port: int):
    """gunicorn with the production settings file (overridden by --workers/--threads/--worker-class) and
    what it runs."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    conf_file = REPO / "platform" / "gaitsite" / "gunicorn.conf.py"
    conf = runpy.run_path(str(conf_file))
    overrides = []
    for flag, value in (("--workers", args.workers), ("--threads", args.threads), ("--worker-class", args.worker_class)):
        if value is not None:
            overrides += [flag, str(value)]
    info = {"gunicorn_config": str(conf_file.relative_to(REPO)), "worker_class": args.worker_class or conf["worker_class"],
            "workers": args.workers or conf["workers"], "threads": args.threads or conf["threads"]}
    server = subprocess.Popen(
        [str(gunicorn), "-c", str(conf_file), "-b", f"127.0.0.1:{port}", *overrides, "--log-level", "warning",
         "gaitsite.wsgi:application"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(Path(var) / "gunicorn.log", "w"))  # noqa: SIM115
    return server, info


def _wait_until_up(server: subprocess.Popen, port: int, token: str, var: str) -> None:
    import urllib.request

    deadline = time.time() + 60
    while True:
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/me/",
                                         headers={"Authorization": f"Bearer {token}"})
            if urllib.request.urlopen(req, timeout=2).status == 200:
                return
        except OSError:
            pass
        if time.time() > deadline or server.poll() is not None:
            raise RuntimeError(f"gunicorn did not come up; see {var}/gunicorn.log")
        time.sleep(0.2)


def _measure(args: argparse.Namespace, duration: float, port: int, orgs: list[dict], server: subprocess.Popen,
             admin: str, dbname: str, cache_url: str) -> list:
    """``--windows`` measured windows: each ``(timed, errors, elapsed, cpu seconds of server, PostgreSQL,
    client and Redis)``."""
    server_pids = [server.pid, *_proc_children(server.pid)]
    redis_pids = _redis_pids() if cache_url else []
    windows = []
    for w in range(args.windows):
        pg_pids = _postgres_backends(admin, dbname)
        cpu0 = (_proc_cpu_s(server_pids), _proc_cpu_s(pg_pids), resource.getrusage(resource.RUSAGE_SELF),
                _proc_cpu_s(redis_pids))
        log(f"measuring {args.clients} clients for {duration:.0f} s"
            + (f" (window {w + 1} of {args.windows})" if args.windows > 1 else ""))
        timed, errors, elapsed = run_loop(load(port, orgs, args.clients, duration, args.think_ms, progress=True),
                                          args.loop)
        cpu1 = (_proc_cpu_s(server_pids), _proc_cpu_s(pg_pids), resource.getrusage(resource.RUSAGE_SELF),
                _proc_cpu_s(redis_pids))
        new_pg = sorted(set(_postgres_backends(admin, dbname)) - set(pg_pids))  # opened during the window
        cpu_s = {
            "server": _delta(cpu0[0], cpu1[0]),
            "postgres": _delta(cpu0[1], None if cpu1[1] is None else cpu1[1] + (_proc_cpu_s(new_pg) or 0.0)),
            "client": _delta(cpu0[2].ru_utime + cpu0[2].ru_stime, cpu1[2].ru_utime + cpu1[2].ru_stime),
            "redis": _delta(cpu0[3], cpu1[3]) if redis_pids else None,
        }
        windows.append((timed, errors, elapsed, cpu_s))
    return windows


def _result(args: argparse.Namespace, windows: list, orgs: list[dict], gunicorn_info: dict, cache_url: str) -> dict:
    timed = [t for win in windows for t in win[0]]
    result = {
        **summary(windows),
        "clients": args.clients,
        "think_ms": args.think_ms,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "sessions": args.sessions,
        "organisations": len(orgs),
        "server": {**gunicorn_info, "cpus": os.cpu_count(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "client": f"raw HTTP/1.1 coroutines on {args.loop} in one process (keep-alive unless the server closes)",
        "cache": cache_url.rsplit("@", 1)[-1] if cache_url else "locmem (per process)",
        "by_endpoint": {k: {"n": len(v), "p50_ms": round(percentile(v, 50), 2), "p99_ms": round(percentile(v, 99), 2)}
                        for k, v in sorted(_by_kind(timed).items())},
        "goal": {"p99_ms_below": 150, "errors": 0},
    }
    if args.windows > 1:
        import statistics

        result["windows"] = [summary([win]) for win in windows]
        result["p99_ms_median_of_windows"] = round(statistics.median(w["p99_ms"] for w in result["windows"]), 2)
    return result

if __name__ == "__main__":
    sys.exit(main())
