"""One synthetic session through the whole platform on the embedded defaults, in a fresh interpreter.

    python tests/workers/embedded_e2e.py --var-dir DIR [--checkpoint C] [--predictor P] [--scale 0.17]
        [--backend inprocess|torchserve --torchserve-url URL]

SQLite database, SQLite broker consumed by a real worker process, local media files, and (by default)
the in-process inference client: nothing but Python. The script migrates a fresh database in DIR, makes
an organisation, a token and a subject, starts a worker, waits until it is ready, uploads the session
through the REST API (Django's test client), and measures the time from the upload's ``complete``
until predictions are readable through the API. Prints one JSON object. Used by
tests/workers/test_pipeline_embedded.py and bench/pipeline.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def environment(args) -> dict[str, str]:
    env = {"GAIT_VAR_DIR": str(Path(args.var_dir).resolve()), "GAIT_ENV": "development",
           "GAIT_ALLOWED_HOSTS": "localhost,127.0.0.1,testserver", "GAIT_INFERENCE_BACKEND": args.backend,
           "GAIT_PIPELINE_RETRY_BACKOFF_S": "1", "GAIT_PIPELINE_RETRY_BACKOFF_MAX_S": "5"}
    if args.checkpoint:
        env["GAIT_MODEL_CHECKPOINT"] = str(Path(args.checkpoint).resolve())
    if args.predictor:
        env["GAIT_PREDICTOR"] = str(Path(args.predictor).resolve())
    if args.backend == "torchserve":
        env["GAIT_TORCHSERVE_URL"] = args.torchserve_url
    return env


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--var-dir", required=True)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--predictor", default=None)
    p.add_argument("--scale", type=float, default=0.17, help="synthetic task duration scale (1.0 = full protocol)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=("inprocess", "torchserve"), default="inprocess")
    p.add_argument("--torchserve-url", default="")
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args()
    Path(args.var_dir).mkdir(parents=True, exist_ok=True)
    env = environment(args)
    for k in [k for k in os.environ if k.startswith(("GAIT_", "DATABASE_URL"))]:
        del os.environ[k]
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "gaitsite.settings"
    sys.path[:0] = [str(REPO / "platform"), str(REPO)]

    import django

    django.setup()
    from cohorts.models import Cohort, Subject
    from django.core.management import call_command
    from rest_framework.test import APIClient
    from tenancy.models import Role
    from tenancy.scope import organisation_scope

    from tests.pipeline_support import Worker, synthetic_session_bytes
    from tests.platform.factories import make_org, make_token
    from tests.platform.sessionfiles import sha256

    call_command("migrate", verbosity=0)
    org = make_org(f"e2e-{uuid.uuid4().hex[:6]}")
    with organisation_scope(org):
        cohort = Cohort.objects.create(name="e2e")
        subject = Subject.objects.create(cohort=cohort, external_id="E2E-1", birth_year=1965, sex="male")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(org, Role.CLINICIAN)}")
    data = synthetic_session_bytes(seed=args.seed, duration_scale=args.scale)

    worker = Worker(env, Path(args.var_dir) / "worker.log").start()
    try:
        worker.wait_log(" ready.", timeout=120)
        from gaitcore.sessionfile import from_bytes

        tasks = [t.task for t in from_bytes(data).tasks]
        up = api.post("/api/v1/uploads/", {"subject": subject.pk, "format": "gait-session", "size": len(data),
                                           "sha256": sha256(data), "tasks": tasks, "filename": "e2e.gait.npz"},
                      format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())).json()
        api.put(f"/api/v1/uploads/{up['id']}/chunk/", data, content_type="application/offset+octet-stream",
                HTTP_UPLOAD_OFFSET="0")
        t0 = time.perf_counter()
        r = api.post(f"/api/v1/uploads/{up['id']}/complete/")
        if r.status_code != 201:
            raise SystemExit(f"complete failed: {r.status_code} {r.content[:500]!r}")
        sid = r.json()["id"]
        session, preds = {}, []
        while time.perf_counter() - t0 < args.timeout:
            session = api.get(f"/api/v1/sessions/{sid}/").json()
            preds = api.get("/api/v1/predictions/", {"session": sid}).json()["results"]
            if session["status"] == "failed" or (preds and session["status"] == "done"):
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
        emb = api.get("/api/v1/embeddings/", {"session": sid}).json()["results"]
        feats = api.get("/api/v1/features/", {"session": sid}).json()["results"]
        print(json.dumps({
            "status": session.get("status"), "status_reason": session.get("status_reason"), "seconds": round(seconds, 2),
            "backend": args.backend, "frames": session.get("n_frames"), "tasks": len(tasks),
            "features": len(feats), "embeddings": len(emb), "predictions": len(preds),
            "model_versions": sorted({e["model_version"] for e in emb}),
        }))
        return 0 if session.get("status") == "done" else 1
    finally:
        worker.stop()


if __name__ == "__main__":
    sys.exit(main())
