"""``manage.py seed_demo_results``: give the demo organisation synthetic cohorts WITH results, so the
dashboards show content on first start (idempotent: does nothing when the cohorts exist).

The processing pipeline is not in yet, so QC and features are computed here with gaitcore on synthetic
session files, and the predictions are demonstration values (see ``dashboards.demo``); the predictor
card shown on every page says so.
"""

from django.core.management.base import BaseCommand, CommandError
from tenancy.models import Organisation
from tenancy.scope import organisation_scope

from dashboards.demo import seed_cohort

COHORTS = (("Synthetic cohort A", 7, 16, "SYN-A", 2, 1), ("Synthetic cohort B", 8, 10, "SYN-B", 0, 0))


class Command(BaseCommand):
    help = "Seed the demo organisation with synthetic cohorts and their (demonstration) results."

    def add_arguments(self, parser):
        parser.add_argument("--organisation", default="demo-clinic", help="organisation slug")

    def handle(self, *args, organisation, **opts):
        from cohorts.models import Cohort

        org = Organisation.objects.filter(slug=organisation).first()
        if org is None:
            raise CommandError(f"no organisation {organisation!r}: run `manage.py demo_setup` first")
        with organisation_scope(org):
            for name, seed, n, prefix, failed, in_flight in COHORTS:
                if Cohort.objects.filter(name=name).exists():
                    continue
                seed_cohort(org, cohort_name=name, n_subjects=n, seed=seed, prefix=prefix, failed=failed,
                            in_flight=in_flight, qc_warnings=failed)
                self.stdout.write(f"seeded {name}: {n} synthetic subjects with QC, gaitcore features and "
                                  "demonstration predictions")
