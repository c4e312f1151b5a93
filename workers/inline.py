"""The pipeline run in this process (Celery's eager mode: the same tasks, failure policy and chaining as a
worker), for the demo seeding without a running worker and for tests.

    python -m workers.inline ORGANISATION_ID SESSION_ID [SESSION_ID ...]

Worker side on purpose: the platform's processes never import workers; ``manage.py seed_demo --process
inline`` runs this module as a command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def process_inline(ids, organisation_id: int, progress: Callable[[str], None] = lambda _m: None) -> None:
    """Run the Celery pipeline for ``ids`` here (``workers.tasks.pipeline`` in eager mode: each task runs in
    this process and sends the next one here too)."""
    from workers.celery_app import app
    from workers.tasks.pipeline import process_session

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        for k, sid in enumerate(ids, 1):
            process_session.apply_async(args=[sid, organisation_id])
            progress(f"processed {k} of {len(ids)} sessions")
    finally:
        app.conf.task_always_eager = before


def main(argv: list[str] | None = None) -> int:
    import os

    import django

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or not all(a.isdigit() for a in args):
        print("usage: python -m workers.inline ORGANISATION_ID SESSION_ID [SESSION_ID ...]", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gaitsite.settings")
    django.setup()
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    org = Organisation.objects.get(pk=int(args[0]))
    with organisation_scope(org):
        process_inline([int(a) for a in args[1:]], org.pk,
                       progress=lambda m: print(f"[workers.inline] {m}", file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
