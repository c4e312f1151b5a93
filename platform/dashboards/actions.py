"""Writes owned by the dashboards: invitations (atomic, audited, like every app's actions)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from tenancy.actions import _check_grant
from tenancy.audit import Actor, record
from tenancy.models import Membership, Role
from tenancy.scope import organisation_scope

from .models import Invitation, hash_invitation

INVITE_PREFIX = "inv_"


@transaction.atomic
def create_invitation(actor: Actor, *, role: str, note: str = "", expires_in_days: int = 7) -> tuple[Invitation, str]:
    """Returns (invitation, raw key); the link carries the key, shown once, stored hashed."""
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r}"})
    _check_grant(actor, role)
    if not 1 <= expires_in_days <= 30:
        raise ValidationError({"expires_in_days": "must be between 1 and 30"})
    raw = INVITE_PREFIX + secrets.token_urlsafe(24)
    inv = Invitation.objects.create(role=role, note=note, key_hash=hash_invitation(raw), created_by=actor.user,
                                    expires_at=timezone.now() + timedelta(days=expires_in_days))
    record(actor, "invitation.create", inv, role=role, note=note)
    return inv, raw


@transaction.atomic
def revoke_invitation(actor: Actor, inv: Invitation) -> Invitation:
    if inv.state == "open":
        inv.revoked_at = timezone.now()
        inv.save(update_fields=["revoked_at"])
        record(actor, "invitation.revoke", inv)
    return inv


def find_invitation(raw: str) -> Invitation | None:
    """Outside any scope (the visitor is not a member yet): the explicit unscoped lookup, by hash."""
    return Invitation.unscoped.select_related("organisation").filter(key_hash=hash_invitation(raw)).first()


@transaction.atomic
def accept_invitation(user, inv: Invitation) -> Membership:
    inv = Invitation.unscoped.select_for_update().get(pk=inv.pk)
    if inv.state != "open":
        raise ValidationError({"invitation": f"this invitation is {inv.state}"})
    with organisation_scope(inv.organisation):
        if Membership.objects.filter(user=user).exists():
            raise ValidationError({"invitation": "you are already a member of this organisation"})
        m = Membership.objects.create(user=user, role=inv.role)
        inv.accepted_at, inv.accepted_by = timezone.now(), user
        inv.save(update_fields=["accepted_at", "accepted_by"])
        record(Actor(user=user, role=inv.role), "invitation.accept", inv, role=inv.role)
    return m
