"""Backfill a new default model version over existing sessions, in batches, with progress.

    python -m workers.backfill [--batch 50] [--organisation SLUG] [--version TAG] [--wait-timeout 3600]
                               [--no-wait] [--dry-run]

The model version is the one the configured inference backend serves now (TorchServe's default
version, or the in-process checkpoint), or ``--version``: a registered encoder version, embedded
explicitly (an encoder rollout does this before the version is the default: ``workers/rollout.py``). Sessions that are ``done`` but have no ``ensemble`` embedding of
that version get the tail of the pipeline again (embed -> predict -> aggregate; the inference queue).
Backfill messages carry ``backfill=True``: they take the session's lease (``workers.leases``) but leave
its status (``done``) and events alone. Batches are sent one at a time: the next batch goes when every session of the current one has its new
embedding (or failed), so a backfill never floods the inference queue ahead of new uploads. Progress
goes to stderr, a JSON summary to stdout. Rerunning it is safe: finished sessions are skipped and the
steps are idempotent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def pending_sessions(version: str, organisation: str | None = None) -> list[tuple[int, int]]:
    """(session id, organisation id) of done sessions without an ensemble embedding of ``version``."""
    from recordings.models import GaitSession, SessionStatus
    from results.models import Embedding
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    out = []
    orgs = Organisation.objects.all() if organisation is None else Organisation.objects.filter(slug=organisation)
    for org in orgs:
        with organisation_scope(org):
            have = Embedding.objects.filter(model_version=version, task="ensemble").values("session_id")
            ids = (GaitSession.objects.filter(status=SessionStatus.DONE).exclude(pk__in=have)
                   .order_by("id").values_list("id", flat=True))
            out += [(sid, org.pk) for sid in ids]
    return out


def batch_finished(batch: list[tuple[int, int]], version: str) -> int:
    from recordings.models import GaitSession
    from results.models import Embedding

    ids = [sid for sid, _ in batch]
    done = set(Embedding.unscoped.filter(session_id__in=ids, model_version=version, task="ensemble")
               .values_list("session_id", flat=True))
    failed = set(GaitSession.unscoped.filter(pk__in=ids, status="failed").values_list("id", flat=True))
    return len(done | failed)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m workers.backfill", description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--organisation", default=None, help="only this organisation (slug)")
    p.add_argument("--wait-timeout", type=float, default=3600, help="seconds to wait for one batch")
    p.add_argument("--no-wait", action="store_true", help="queue every batch at once")
    p.add_argument("--version", default=None, help="a registered encoder version (default: the one served now)")
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)

    from workers.celery_app import app
    from workers.inference import get_client

    version = get_client(args.version).model_version()
    todo = pending_sessions(version, args.organisation)
    total, sent, finished = len(todo), 0, 0
    print(f"backfill {version}: {total} sessions", file=sys.stderr)
    if args.dry_run:
        print(json.dumps({"model_version": version, "pending": total, "dry_run": True}))
        return 0
    for start in range(0, total, max(1, args.batch)):
        batch = todo[start:start + args.batch]
        for sid, org in batch:
            app.send_task("workers.pipeline.embed", args=[sid, org],
                          kwargs={"backfill": True, **({"version": version} if args.version else {})})
        sent += len(batch)
        if args.no_wait:
            print(f"  queued {sent}/{total}", file=sys.stderr)
            continue
        deadline = time.monotonic() + args.wait_timeout
        while (n := batch_finished(batch, version)) < len(batch) and time.monotonic() < deadline:
            time.sleep(2)
        finished += n
        print(f"  {finished}/{total} sessions have {version}", file=sys.stderr)
    print(json.dumps({"model_version": version, "pending": total, "queued": sent,
                      "finished": None if args.no_wait else finished}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
