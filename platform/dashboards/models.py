"""What the dashboards need that no other app stores.

* ``PredictorCard`` moved to the registry app (``registry.models``); re-exported here for old imports.
* ``Invitation`` -- an org admin invites someone by a one-time link with a role.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from registry.models import PredictorCard  # noqa: F401 - moved to the registry app
from tenancy.models import Role
from tenancy.scope import TenantModel


def hash_invitation(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Invitation(TenantModel):
    """A one-time link that makes whoever opens it (logged in or signing up) a member with ``role``."""

    note = models.CharField(max_length=200, blank=True, help_text="who it is for (an e-mail, a name)")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invitation {self.pk} ({self.role})"

    @property
    def state(self) -> str:
        from django.utils import timezone

        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "open"
