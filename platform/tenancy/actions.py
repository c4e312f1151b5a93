"""Writes of the tenancy app. Views and commands call these; each is atomic."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Membership, Organisation, Role


@transaction.atomic
def ensure_demo_organisation(*, slug: str, name: str, username: str, password: str) -> tuple[Organisation, bool]:
    """Create (or reset the password of) the demo organisation's owner. Returns (org, created)."""
    org, created = Organisation.objects.get_or_create(slug=slug, defaults={"name": name})
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
    user.set_password(password)
    user.is_staff = True
    user.save()
    Membership.objects.update_or_create(organisation=org, user=user, defaults={"role": Role.OWNER})
    return org, created
