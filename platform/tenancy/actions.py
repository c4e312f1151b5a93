"""Writes of the tenancy app (Zulip style): views and commands call these; each is atomic and audited."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from .audit import Actor, record
from .models import ROLE_RANK, TOKEN_PREFIX, APIToken, Membership, Organisation, Role, hash_token
from .scope import current_organisation, organisation_scope
from .tokencache import forget

MAX_TOKEN_DAYS = 365
DEFAULT_TOKEN_DAYS = 90


@transaction.atomic
def ensure_demo_organisation(*, slug: str, name: str, username: str, password: str) -> tuple[Organisation, bool]:
    """Create (or reset the password of) the demo organisation's owner. Returns (org, created)."""
    org, created = Organisation.objects.get_or_create(slug=slug, defaults={"name": name})
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
    user.set_password(password)
    user.is_staff = True
    user.save()
    with organisation_scope(org):
        Membership.objects.update_or_create(organisation=org, user=user, defaults={"role": Role.OWNER})
        record(Actor.system(), "membership.ensure_owner", user=user.username)
    return org, created


def _check_grant(actor: Actor, role: str) -> None:
    if actor.role and actor.role != "system" and ROLE_RANK.get(role, 0) > ROLE_RANK.get(actor.role, 0):
        raise PermissionDenied(f"a {actor.role} cannot grant the role {role!r}")


@transaction.atomic
def create_token(actor: Actor, *, name: str, role: str, expires_in_days: int = DEFAULT_TOKEN_DAYS) -> tuple[APIToken, str]:
    """Create a token; returns (token, raw secret). The secret is shown once and never stored."""
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r}"})
    _check_grant(actor, role)
    if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise ValidationError({"expires_in_days": f"must be between 1 and {MAX_TOKEN_DAYS}"})
    key_id = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    token = APIToken.objects.create(
        name=name, key_id=key_id, key_hash=hash_token(raw), role=role, created_by=actor.user,
        expires_at=timezone.now() + timedelta(days=expires_in_days),
    )
    record(actor, "token.create", token, role=role, expires_at=token.expires_at.isoformat())
    return token, raw


@transaction.atomic
def revoke_token(actor: Actor, token: APIToken) -> APIToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(actor, "token.revoke", token)
        forget(token.key_hash)  # this process stops accepting it now (others within tokencache.CACHE_SECONDS)
    return token


@transaction.atomic
def change_role(actor: Actor, membership: Membership, role: str) -> Membership:
    _check_grant(actor, role)
    _check_grant(actor, membership.role)
    _keep_an_owner(membership, new_role=role)
    old, membership.role = membership.role, role
    membership.save(update_fields=["role"])
    record(actor, "membership.update", membership, old_role=old, role=role)
    return membership


@transaction.atomic
def remove_member(actor: Actor, membership: Membership) -> None:
    _check_grant(actor, membership.role)
    _keep_an_owner(membership, new_role=None)
    record(actor, "membership.delete", membership, user=membership.user.username)
    membership.delete()


def _keep_an_owner(membership: Membership, new_role: str | None) -> None:
    if membership.role == Role.OWNER and new_role != Role.OWNER:
        owners = Membership.objects.select_for_update().filter(role=Role.OWNER).count()
        if owners <= 1:
            raise ValidationError({"role": "an organisation keeps at least one owner"})


def touch_token(token: APIToken, ip: str | None) -> None:
    """Record last use, at most once a minute per token (one UPDATE, no read)."""
    now = timezone.now()
    if token.last_used_at and now - token.last_used_at < timedelta(seconds=60):
        return
    first = token.last_used_at is None
    APIToken.unscoped.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    token.last_used_at = now
    if first:  # a token's first use is of note (a leaked token shows up here too)
        with organisation_scope(token.organisation):
            record(Actor(token=token), "token.first_use", token, ip=ip)


# --- generic audited writes used by the apps' action functions ----------------------------------------
def _clean(instance) -> None:
    from django.core.exceptions import ValidationError as DjangoValidationError

    try:
        instance.full_clean()
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}) from None


def create_object(actor: Actor, model, verb: str, **fields):
    with transaction.atomic():
        instance = model(organisation=current_organisation(), **fields)
        _clean(instance)
        instance.save()
        record(actor, verb, instance, **_jsonable(fields))
    return instance


def update_object(actor: Actor, instance, verb: str, **fields):
    with transaction.atomic():
        changes = {}
        for name, value in fields.items():
            old = getattr(instance, name)
            if old != value:
                changes[name] = [_jsonable_value(old), _jsonable_value(value)]
                setattr(instance, name, value)
        if changes:
            _clean(instance)
            instance.save()
            record(actor, verb, instance, changes=changes)
    return instance


def delete_object(actor: Actor, instance, verb: str) -> None:
    from django.db.models import ProtectedError
    from gaitsite.api import APIError

    try:
        with transaction.atomic():
            record(actor, verb, instance)
            instance.delete()
    except ProtectedError as exc:
        kinds = sorted({str(o._meta.verbose_name_plural) for o in exc.protected_objects})
        raise APIError(409, "protected", f"{instance._meta.verbose_name} {instance} still has {', '.join(kinds)}") from None


def _jsonable_value(v):
    if hasattr(v, "pk"):
        return v.pk
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)


def _jsonable(fields: dict) -> dict:
    return {k: _jsonable_value(v) for k, v in fields.items()}


# --- organisation settings ----------------------------------------------------------------------------
def may_change_organisation_settings(actor: Actor) -> bool:
    """The organisation's owner (membership or owner token) or platform staff (Django ``is_staff``)."""
    return actor.role == Role.OWNER or bool(getattr(actor.user, "is_staff", False))


@transaction.atomic
def set_pooled_pretraining(actor: Actor, org: Organisation, enabled: bool, reason: str = "") -> Organisation:
    """Opt the organisation in to (or out of) the platform's pooled encoder pretraining: its subjects who
    consented to model training (``consent_model_training``) then enter the global snapshots of
    ``pretrain-encoder`` jobs created afterwards (a job's snapshot is frozen when it is created). Only its
    owner or platform staff may change it; every change is an audit event of the organisation."""
    if not may_change_organisation_settings(actor):
        raise PermissionDenied("only the organisation's owner (or platform staff) may change pooled pretraining")
    org = Organisation.objects.select_for_update().get(pk=org.pk)
    enabled = bool(enabled)
    if org.pooled_pretraining != enabled:
        org.pooled_pretraining = enabled
        org.save(update_fields=["pooled_pretraining"])
    with organisation_scope(org):  # recorded in the organisation's own audit log (a no-op change too)
        record(actor, "organisation.pooled_pretraining", org, enabled=enabled, reason=reason.strip()[:500])
    return org
