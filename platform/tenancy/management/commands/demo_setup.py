"""``manage.py demo_setup``: the demo organisation, its owner, a cohort for your own uploads (subjects
DEMO-001..003) and an API token, with the login and the token printed.

The login and the token are kept in ``<GAIT_VAR_DIR>/demo-login.json`` (mode 0600) and printed again on every
start: a restart neither resets the password nor revokes the token it printed before (a new token only when
that one was revoked or expired; a new password only with ``--password``)."""

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from tenancy.actions import create_token, ensure_demo_organisation
from tenancy.audit import Actor
from tenancy.models import APIToken, Role, hash_token
from tenancy.scope import organisation_scope

UPLOADS_COHORT = "Your uploads (DEMO-001..003)"
UPLOADS_HELP = ("subjects DEMO-001..003 for your own recordings: gait-upload record --subject DEMO-001 "
                "(empty until you upload)")


def _saved(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.chmod(0o600)
    tmp.replace(path)


class Command(BaseCommand):
    help = "Create the demo organisation, its owner, an uploads cohort and an API token; print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="", help="set this password (default: keep the saved one, "
                                                           "or a new random one on the first start)")

    def handle(self, *args, username, password, **opts):
        from cohorts.models import Cohort, Subject

        path = Path(settings.VAR_DIR) / "demo-login.json"
        saved = _saved(path) if _saved(path).get("username") == username else {}
        user = get_user_model().objects.filter(username=username).first()
        if not password and saved.get("password") and user is not None and user.check_password(saved["password"]):
            password = saved["password"]  # a restart keeps the login
        password = password or secrets.token_urlsafe(12)
        org, created = ensure_demo_organisation(
            slug="demo-clinic", name="Demo Clinic", username=username, password=password
        )
        with organisation_scope(org):
            cohort, _ = Cohort.objects.get_or_create(organisation=org, name=UPLOADS_COHORT,
                                                     defaults={"description": UPLOADS_HELP})
            for i, (year, sex) in enumerate([(1961, "female"), (1975, "male"), (1990, "female")], start=1):
                Subject.objects.get_or_create(organisation=org, external_id=f"DEMO-{i:03d}",
                                              defaults={"cohort": cohort, "birth_year": year, "sex": sex,
                                                        "consent_research": True})
            raw = saved.get("token", "")
            live = raw and APIToken.objects.filter(key_hash=hash_token(raw), revoked_at__isnull=True,
                                                   expires_at__gt=timezone.now()).exists()
            if not live:
                APIToken.objects.filter(name="demo", revoked_at__isnull=True).update(revoked_at=timezone.now())
                _, raw = create_token(Actor.system(), name="demo", role=Role.ADMIN, expires_in_days=30)
        _save(path, {"username": username, "password": password, "token": raw})
        self.stdout.write(
            f"{'Created' if created else 'Found'} organisation '{org.name}'. Login: {username} / {password}\n"
            f"API token (admin role, 30 days; kept in {path}): {raw}\n"
            f"  curl -H 'Authorization: Bearer {raw}' http://127.0.0.1:{os.environ.get('PORT', '8000')}/api/v1/subjects/"
        )
