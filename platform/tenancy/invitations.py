"""Invitations (atomic, audited, like every app's actions): the only way into an organisation.

An admin invites by a one-time link (``/dashboard/invite/<key>/``) with a role, optionally for one
username (``POST /api/v1/members/`` always names one). Nobody is added without accepting, and the
answer to an invitation for a name is the same whether or not that name has an account anywhere.
Links that are unknown, revoked, expired or used all show the same "not valid" page."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from .actions import _check_grant
from .audit import Actor, record
from .models import Invitation, Membership, Role, hash_invitation
from .scope import organisation_scope

INVITE_PREFIX = "inv_"


@transaction.atomic
def create_invitation(actor: Actor, *, role: str, note: str = "", username: str = "",
                      expires_in_days: int = 7) -> tuple[Invitation, str]:
    """Returns (invitation, raw key); the link carries the key, shown once, stored hashed. With
    ``username`` only that user may accept. Never looks the name up (no answer tells whether it exists)."""
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r}"})
    _check_grant(actor, role)
    if not 1 <= expires_in_days <= 30:
        raise ValidationError({"expires_in_days": "must be between 1 and 30"})
    raw = INVITE_PREFIX + secrets.token_urlsafe(24)
    inv = Invitation.objects.create(role=role, note=note, username=username, key_hash=hash_invitation(raw),
                                    created_by=actor.user, expires_at=timezone.now() + timedelta(days=expires_in_days))
    record(actor, "invitation.create", inv, role=role, note=note, username=username)
    return inv, raw


@transaction.atomic
def revoke_invitation(actor: Actor, inv: Invitation) -> Invitation:
    if inv.state == "open":
        inv.revoked_at = timezone.now()
        inv.save(update_fields=["revoked_at"])
        record(actor, "invitation.revoke", inv)
    return inv


def find_invitation(raw: str) -> Invitation | None:
    """The open invitation of a link, else None (unknown, revoked, expired and used alike). Outside any
    scope (the visitor is not a member yet): the explicit unscoped lookup, by hash."""
    inv = Invitation.unscoped.select_related("organisation").filter(key_hash=hash_invitation(raw)).first()
    return inv if inv is not None and inv.state == "open" else None


@transaction.atomic
def accept_invitation(user, inv: Invitation) -> Membership:
    inv = Invitation.unscoped.select_for_update().get(pk=inv.pk)
    if inv.state != "open":
        raise ValidationError({"invitation": "this invitation link is not valid"})
    if inv.username and inv.username != user.get_username():
        raise ValidationError({"invitation": f"this invitation is for the user {inv.username!r}; log in as that user"})
    with organisation_scope(inv.organisation):
        if Membership.objects.filter(user=user).exists():
            raise ValidationError({"invitation": "you are already a member of this organisation"})
        m = Membership.objects.create(user=user, role=inv.role)
        inv.accepted_at, inv.accepted_by = timezone.now(), user
        inv.save(update_fields=["accepted_at", "accepted_by"])
        record(Actor(user=user, role=inv.role), "invitation.accept", inv, role=inv.role)
    return m
