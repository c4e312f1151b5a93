"""Organisations, memberships, API tokens and the audit log.

A user may belong to several organisations, with one role in each. Roles, from most to least power:
owner and admin (members, tokens, cohorts), clinician (subjects, sessions, uploads), researcher (read,
exports, phenotype tables), viewer (read). ``ROLE_PERMISSIONS`` is the one table of what each may do.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from .scope import TenantModel


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    CLINICIAN = "clinician", "Clinician"
    RESEARCHER = "researcher", "Researcher"
    VIEWER = "viewer", "Viewer"


class Perm:
    READ = "read"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_TOKENS = "manage_tokens"
    MANAGE_COHORTS = "manage_cohorts"
    WRITE_SUBJECTS = "write_subjects"  # subjects and sessions
    UPLOAD = "upload"
    EXPORT = "export"
    PHENOTYPES = "phenotypes"
    READ_AUDIT = "read_audit"
    TRAIN_MODELS = "train_models"  # start and cancel training jobs
    MANAGE_MODELS = "manage_models"  # promote, roll back, override the gate, re-predict


_ALL = {v for k, v in vars(Perm).items() if k.isupper()}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(_ALL),
    Role.ADMIN: frozenset(_ALL),
    Role.CLINICIAN: frozenset({Perm.READ, Perm.WRITE_SUBJECTS, Perm.UPLOAD}),
    Role.RESEARCHER: frozenset({Perm.READ, Perm.EXPORT, Perm.PHENOTYPES, Perm.TRAIN_MODELS}),
    Role.VIEWER: frozenset({Perm.READ}),
}
ROLE_RANK = {Role.OWNER: 5, Role.ADMIN: 4, Role.CLINICIAN: 3, Role.RESEARCHER: 2, Role.VIEWER: 1}


def role_can(role: str, perm: str) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


class Organisation(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    pooled_pretraining = models.BooleanField(
        default=False, help_text="the organisation lets its consenting subjects' sessions enter the platform's "
                                 "pooled encoder pretraining (off by default; changed only through an audited action)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(TenantModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "user"], name="one_membership_per_org")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.role})"


# The public prefix of token strings, not a secret:
TOKEN_PREFIX = "gait"  # nosec B105


def hash_token(raw: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is a safe at-rest form (no slow KDF needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class APIToken(TenantModel):
    """An organisation's API token: hashed at rest, shown once, role-scoped, expiring, revocable."""

    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)  # public part, used to find the row
    key_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=16, choices=Role.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class AuditEvent(TenantModel):
    """Who did what, when: every write, export and token use of note. ``organisation`` is null for a
    platform-level event (encoder pretraining, promotion), written by ``audit.record_platform``."""

    organisation = models.ForeignKey("tenancy.Organisation", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+", editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_token = models.ForeignKey(APIToken, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64, db_index=True)  # e.g. "cohort.create", "export.features"
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organisation", "-created_at"])]


def hash_invitation(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Invitation(TenantModel):
    """A one-time link that makes whoever opens it (logged in or signing up) a member with ``role``; when
    ``username`` is set, only that user (or a new account of that name) may accept it. The only way into
    an organisation for an existing user: nobody is added to an organisation without accepting."""

    note = models.CharField(max_length=200, blank=True, help_text="who it is for (an e-mail, a name)")
    username = models.CharField(max_length=150, blank=True, help_text="only this user may accept (blank: anyone)")
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
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "open"
