"""``manage.py demo_setup``: the demo organisation and its owner, with the login printed."""

import secrets

from django.core.management.base import BaseCommand

from tenancy.actions import ensure_demo_organisation


class Command(BaseCommand):
    help = "Create the demo organisation and its owner account and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="", help="default: a new random password")

    def handle(self, *args, username, password, **opts):
        password = password or secrets.token_urlsafe(12)
        org, created = ensure_demo_organisation(
            slug="demo-clinic", name="Demo Clinic", username=username, password=password
        )
        self.stdout.write(
            f"{'Created' if created else 'Found'} organisation '{org.name}'. Login: {username} / {password}"
        )
