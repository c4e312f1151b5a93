"""What the dashboards need that no other app stores.

* ``PredictorCard`` -- the provenance of a predictor (``Prediction.model_name`` + ``model_version``): on
  what cohort it was trained, whether it is demonstration-only, and the body-part attribution of its
  ablation (per body system: legs, arms, torso, head importances). Shown next to every prediction. Not
  tenant-owned: a card describes a model, not an organisation's data (it holds no subject data).
* ``Invitation`` -- an org admin invites someone by a one-time link with a role.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from tenancy.models import Role
from tenancy.scope import TenantModel


class PredictorCard(models.Model):
    model_name = models.CharField(max_length=64)
    model_version = models.CharField(max_length=64)
    trained_on = models.CharField(max_length=200, help_text="the training cohort, in words")
    cohort_kind = models.CharField(max_length=16, choices=[("synthetic", "synthetic"), ("real", "real")])
    demonstration_only = models.BooleanField(default=True)
    method = models.CharField(max_length=300, blank=True, help_text="how the values were produced")
    n_training_subjects = models.PositiveIntegerField(default=0)
    attribution = models.JSONField(default=dict, blank=True)  # {system: {legs, arms, torso, head}}
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_name", "model_version"], name="one_card_per_model")]

    def __str__(self) -> str:
        return f"{self.model_name} {self.model_version}"

    def save(self, *args, **kwargs):
        if self.cohort_kind == "synthetic":
            self.demonstration_only = True  # a synthetic-trained predictor is never clinical
        super().save(*args, **kwargs)


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
