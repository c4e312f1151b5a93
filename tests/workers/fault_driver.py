"""Seeding for tests/workers/test_faults.py, run as a subprocess against the fault test's private database.

    python tests/workers/fault_driver.py migrate
    python tests/workers/fault_driver.py seed --sessions N --seed S   -> JSON [session ids]

``seed`` uploads N synthetic sessions through the upload actions (``recordings.actions``: create, one
chunk, complete), exactly as the API does, so each session is queued on commit through the outbox.
The environment (``DATABASE_URL``, ``GAIT_BROKER_URL``, ``GAIT_VAR_DIR``) comes from the test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "platform"), str(REPO)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gaitsite.settings")


def seed(n: int, seed_: int) -> list[int]:
    from cohorts.models import Cohort, Subject
    from recordings import actions
    from tenancy.audit import Actor
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    from gaitcore.sessionfile import from_bytes
    from tests.pipeline_support import synthetic_session_bytes

    org, _ = Organisation.objects.get_or_create(slug="faults", defaults={"name": "Faults"})
    ids = []
    with organisation_scope(org):
        cohort, _ = Cohort.objects.get_or_create(name="faults")
        subject, _ = Subject.objects.get_or_create(cohort=cohort, external_id="F-1",
                                                   defaults={"birth_year": 1960, "sex": "female"})
        for i in range(n):
            data = synthetic_session_bytes(seed=seed_, index=i)
            import hashlib

            tasks = [t.task for t in from_bytes(data).tasks]
            up, _ = actions.create_upload(Actor.system(), idempotency_key=str(uuid.uuid4()), subject=subject,
                                          format="gait-session", size=len(data),
                                          sha256=hashlib.sha256(data).hexdigest(), tasks=tasks, filename="f.gait.npz")
            actions.append_chunk(Actor.system(), up, offset=0, data=data, checksum=None)
            ids.append(actions.complete_upload(Actor.system(), up).pk)
    return ids


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=("migrate", "seed"))
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    import django

    django.setup()
    if args.command == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return 0
    print(json.dumps(seed(args.sessions, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
