"""``manage.py demo_setup``: the demo organisation, its owner, a demo cohort with three subjects and an
API token, with the login and the token printed."""

import os
import secrets

from django.core.management.base import BaseCommand
from django.utils import timezone

from tenancy.actions import create_token, ensure_demo_organisation
from tenancy.audit import Actor
from tenancy.models import APIToken, Role
from tenancy.scope import organisation_scope


class Command(BaseCommand):
    help = "Create the demo organisation, its owner, a demo cohort and an API token; print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="", help="default: a new random password")

    def handle(self, *args, username, password, **opts):
        from cohorts.models import Cohort, Subject

        password = password or secrets.token_urlsafe(12)
        org, created = ensure_demo_organisation(
            slug="demo-clinic", name="Demo Clinic", username=username, password=password
        )
        with organisation_scope(org):
            cohort, _ = Cohort.objects.get_or_create(organisation=org, name="Demo cohort",
                                                     defaults={"description": "created by demo_setup"})
            for i, (year, sex) in enumerate([(1961, "female"), (1975, "male"), (1990, "female")], start=1):
                Subject.objects.get_or_create(organisation=org, external_id=f"DEMO-{i:03d}",
                                              defaults={"cohort": cohort, "birth_year": year, "sex": sex,
                                                        "consent_research": True})
            APIToken.objects.filter(name="demo", revoked_at__isnull=True).update(revoked_at=timezone.now())
            _, raw = create_token(Actor.system(), name="demo", role=Role.ADMIN, expires_in_days=30)
        self.stdout.write(
            f"{'Created' if created else 'Found'} organisation '{org.name}'. Login: {username} / {password}\n"
            f"API token (admin role, 30 days, shown once): {raw}\n"
            f"  curl -H 'Authorization: Bearer {raw}' http://127.0.0.1:{os.environ.get('PORT', '8000')}/api/v1/subjects/"
        )
