"""CPU seconds a pipeline worker spends per session (docs/scale.md: sessions per day per worker core).

    .venv/bin/python bench/worker_cpu.py [--sessions 4] [--scale 1.0] [--checkpoint C]

Sets up the embedded defaults in a temporary folder (SQLite database and broker, local files), starts
TorchServe on loopback with the model (shipped checkpoint unless ``--checkpoint``) and one real
``celery worker`` (prefork, one child) whose inference goes to that TorchServe -- so the model's own
compute is *not* in the worker's CPU, everything else the pipeline does is: validate, preprocess,
features, the embed step's client side, predict (a predictor fitted on random embeddings: bench only),
aggregate, the database (SQLite, in the worker's process) and the broker. It uploads ``--sessions``
synthetic 5-task sessions (``--scale 1.0`` = the full ~6 min protocol) through the REST API, one
after another, and waits until each is done. ``worker_cpu_s_per_session`` = CPU time (user + system)
of the worker's process tree over the uploads, minus its idle CPU rate (the embedded broker polls),
measured for ``--idle-s`` seconds before, times the elapsed time; ``sessions_per_day_per_core`` =
86,400 / that. Prints one JSON object; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "platform")]


def log(msg: str) -> None:
    print(f"[bench/worker_cpu] {msg}", file=sys.stderr, flush=True)


def tree_cpu(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--idle-s", type=float, default=5.0)
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args()

    from gaitcore.model.checkpoint import SHIPPED_CHECKPOINT, load_checkpoint
    from tests.pipeline_support import TorchServeInstance, Worker, fit_predictor, synthetic_session_bytes

    ckpt_path = Path(args.checkpoint or SHIPPED_CHECKPOINT).resolve()
    ckpt = load_checkpoint(ckpt_path)
    out: dict = {"model_version": ckpt.version_tag, "sessions": args.sessions, "scale": args.scale,
                 "load_avg_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="bench-worker-cpu-") as tmp:
        tmp = Path(tmp)
        predictor = fit_predictor(tmp / "predictor", ckpt.version_tag, dim=ckpt.config.dim)
        ts = TorchServeInstance(tmp / "torchserve", ckpt_path, workers=1, batch_size=8)
        log("starting TorchServe")
        ts.start()
        env = {"GAIT_VAR_DIR": str(tmp / "var"), "GAIT_ENV": "development",
               "GAIT_ALLOWED_HOSTS": "localhost,127.0.0.1,testserver", "GAIT_INFERENCE_BACKEND": "torchserve",
               "GAIT_TORCHSERVE_URL": ts.url, "GAIT_PREDICTOR": str(predictor)}
        for k in [k for k in os.environ if k.startswith(("GAIT_", "DATABASE_URL"))]:
            del os.environ[k]
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "gaitsite.settings"
        import django

        django.setup()
        from cohorts.models import Cohort, Subject
        from django.core.management import call_command
        from rest_framework.test import APIClient
        from tenancy.models import Role
        from tenancy.scope import organisation_scope

        from gaitcore.sessionfile import from_bytes
        from tests.platform.factories import make_org, make_token
        from tests.platform.sessionfiles import sha256

        call_command("migrate", verbosity=0)
        org = make_org(f"bench-{uuid.uuid4().hex[:6]}")
        with organisation_scope(org):
            cohort = Cohort.objects.create(name="bench")
            subjects = [Subject.objects.create(cohort=cohort, external_id=f"B-{i}", birth_year=1960 + i, sex="female")
                        for i in range(args.sessions)]
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(org, Role.CLINICIAN)}")
        files = [synthetic_session_bytes(seed=7, index=i, duration_scale=args.scale) for i in range(args.sessions)]
        worker = Worker(env, tmp / "worker.log").start()
        try:
            worker.wait_log(" ready.", timeout=180)
            log(f"worker ready; idle CPU over {args.idle_s:.0f} s")
            c0, t0 = tree_cpu(worker.proc.pid), time.perf_counter()
            time.sleep(args.idle_s)
            idle_rate = (tree_cpu(worker.proc.pid) - c0) / (time.perf_counter() - t0)
            c0, t0 = tree_cpu(worker.proc.pid), time.perf_counter()
            statuses = []
            for i, (subject, data) in enumerate(zip(subjects, files, strict=True)):
                tasks = [t.task for t in from_bytes(data).tasks]
                up = api.post("/api/v1/uploads/", {"subject": subject.pk, "format": "gait-session", "size": len(data),
                                                   "sha256": sha256(data), "tasks": tasks, "filename": f"b{i}.gait.npz"},
                              format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())).json()
                api.put(f"/api/v1/uploads/{up['id']}/chunk/", data, content_type="application/offset+octet-stream",
                        HTTP_UPLOAD_OFFSET="0")
                sid = api.post(f"/api/v1/uploads/{up['id']}/complete/").json()["id"]
                deadline = time.perf_counter() + args.timeout
                while time.perf_counter() < deadline:
                    s = api.get(f"/api/v1/sessions/{sid}/").json()
                    if s["status"] in ("done", "failed"):
                        break
                    time.sleep(0.2)
                statuses.append(s["status"])
                log(f"session {i + 1}/{args.sessions}: {s['status']} {s.get('status_reason') or ''}")
            elapsed = time.perf_counter() - t0
            cpu = tree_cpu(worker.proc.pid) - c0
        finally:
            worker.stop()
            ts.stop()
    per = (cpu - idle_rate * elapsed) / args.sessions
    out.update({"statuses": statuses, "elapsed_s": round(elapsed, 2), "worker_cpu_s": round(cpu, 2),
                "idle_cpu_per_s": round(idle_rate, 4), "worker_cpu_s_per_session": round(per, 3),
                "sessions_per_day_per_core": int(86400 / per) if per > 0 else None,
                "load_avg_1min_at_end": round(os.getloadavg()[0], 2)})
    print(json.dumps(out, indent=1))
    return 0 if all(s == "done" for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
