"""``manage.py seed_demo``: the demo organisation's synthetic cohorts, uploaded and processed for real.

    manage.py seed_demo [--organisation demo-clinic] [--predictor DIR[,DIR]] [--process worker|inline|none]
        [--timeout 1800] [--subjects 12,8] [--duration-scale 0.17]

Uploads the demo cohorts' synthetic sessions through the API's upload actions (see ``demo.seeding``),
registers the predictor card of each predictor artifact (``--predictor``, default ``$GAIT_PREDICTOR``),
then

* ``--process worker`` (default; ``./run demo``): the sessions are queued on the broker like any upload;
  the command waits until the running Celery worker has taken every demo session to ``done`` or
  ``failed`` (progress on stderr; after ``--timeout`` seconds it stops waiting -- the dashboards show the
  rest as processing and fill in);
* ``--process inline``: runs the same Celery tasks in a ``python -m workers.inline`` process (eager mode), no
  worker needed;
* ``--process none``: only uploads.

Idempotent: a second run uploads nothing new; demo sessions left unfinished by an interrupted start are
queued again.
"""

import os
import sys
import time

from dashboards.cards import register_artifact
from django.core.management.base import BaseCommand, CommandError
from tenancy.models import Organisation
from tenancy.scope import organisation_scope

from demo import seeding as demo


class Command(BaseCommand):
    help = "Upload the demo organisation's synthetic cohorts and have the pipeline process them."

    def add_arguments(self, parser):
        parser.add_argument("--organisation", default="demo-clinic", help="organisation slug")
        parser.add_argument("--predictor", default=os.environ.get("GAIT_PREDICTOR", ""),
                            help="predictor artifact folder(s), comma-separated (default: $GAIT_PREDICTOR)")
        parser.add_argument("--process", choices=("worker", "inline", "none"), default="worker")
        parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the worker")
        parser.add_argument("--subjects", default="", help="subjects per demo cohort, e.g. 12,8 (default: the plan)")
        parser.add_argument("--duration-scale", type=float, default=demo.DURATION_SCALE)

    def say(self, msg: str) -> None:
        print(f"[seed_demo] {msg}", file=sys.stderr, flush=True)

    def handle(self, *args, organisation, predictor, process, timeout, subjects, duration_scale, **opts):
        org = Organisation.objects.filter(slug=organisation).first()
        if org is None:
            raise CommandError(f"no organisation {organisation!r}: run `manage.py demo_setup` first")
        folders = [p.strip() for p in predictor.split(",") if p.strip()]
        if folders:
            os.environ["GAIT_PREDICTOR"] = ",".join(folders)  # the inline pipeline reads it (workers.config)
        for folder in folders:
            card = register_artifact(folder)
            self.say(f"predictor card {card} ({card.trained_on}"
                     f"{'; demonstration only -- not for clinical use' if card.demonstration_only else ''})")
        if not folders:
            self.say("no predictor artifact given (--predictor / GAIT_PREDICTOR): sessions will end with features "
                     "and embeddings but no predictions")
        sizes = [int(x) for x in subjects.split(",") if x.strip()] if subjects else None
        cohorts = demo.sized(demo.DEMO_COHORTS, sizes)
        with organisation_scope(org):
            left = demo.unfinished(demo.demo_session_ids())  # by an interrupted earlier start
            res = demo.seed(org, cohorts, duration_scale=duration_scale, progress=self.say)
            ids = res["sessions"]
            pending = demo.unfinished(ids)
            if left and process == "worker":
                self.say(f"{len(left)} demo sessions were left unfinished by an earlier start: queued again")
                demo.requeue(left)
        self.say(f"{res['created']} recordings uploaded now, {len(ids)} demo sessions in all, "
                 f"{len(pending)} to process")
        if process == "inline" and pending:
            t0 = time.monotonic()
            import subprocess

            done = subprocess.run([sys.executable, "-m", "workers.inline", str(org.pk), *map(str, pending)], check=False)
            if done.returncode != 0:
                raise CommandError(f"the inline pipeline exited with {done.returncode}")
            self.say(f"processed in {time.monotonic() - t0:.0f} s")
        elif process == "worker" and pending:
            self.wait(org, ids, timeout)
        with organisation_scope(org):
            counts = demo.status_summary(ids)
        self.stdout.write(f"demo sessions: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}")

    def wait(self, org, ids, timeout):
        t0, last, shown = time.monotonic(), None, 0.0
        while True:
            with organisation_scope(org):
                counts = demo.status_summary(ids)
            done = counts.get("done", 0) + counts.get("failed", 0)
            state = tuple(sorted(counts.items()))
            if state != last and (done >= len(ids) or time.monotonic() - shown > 15):
                self.say(f"pipeline: {done} of {len(ids)} demo sessions processed ({counts.get('failed', 0)} failed; "
                         f"{', '.join(f'{n} {s}' for s, n in state if s not in ('done', 'failed')) or 'none left'})"
                         f" [{time.monotonic() - t0:.0f} s]")
                last, shown = state, time.monotonic()
            if done >= len(ids):
                return
            if time.monotonic() - t0 > timeout:
                self.say(f"stopped waiting after {timeout:.0f} s: the worker goes on; the dashboards show the rest "
                         "as processing")
                return
            time.sleep(2)
