"""The organisation scope: the ONE place tenant isolation is enforced.

Every tenant-owned model inherits ``TenantModel``: its default manager (``objects``) filters by the
organisation of the current scope and **raises** ``NoOrganisationScope`` when none is set (fail closed,
as PostHog's team-scoped managers do). A request enters the scope in ``TenantViewSet.initial`` (see
``tenancy.api.base``); a Celery task or a command enters it explicitly::

    with organisation_scope(org):
        Cohort.objects.all()          # only org's cohorts

``Model.unscoped`` is the explicit escape hatch (admin, authentication, seeding, migrations); grep for
it when reviewing. Related-object access (``session.subject``) uses Django's base manager and so follows
foreign keys that were themselves reached through a scoped query.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models


class NoOrganisationScope(RuntimeError):
    """A tenant-owned table was queried outside any organisation scope."""


_current: ContextVar = ContextVar("gait_organisation", default=None)


def current_organisation():
    org = _current.get()
    if org is None:
        raise NoOrganisationScope(
            "tenant-owned data queried outside an organisation scope; "
            "use tenancy.scope.organisation_scope(org) or Model.unscoped explicitly"
        )
    return org


def current_organisation_or_none():
    return _current.get()


@contextmanager
def organisation_scope(org):
    if org is None or getattr(org, "pk", None) is None:
        raise NoOrganisationScope("organisation_scope() needs a saved organisation")
    token = _current.set(org)
    try:
        yield org
    finally:
        _current.reset(token)


def enter_scope(org):
    """Set the scope and return the reset token (for request lifecycles; prefer the context manager)."""
    return _current.set(org)


def exit_scope(token) -> None:
    _current.reset(token)


def _refuse_unscoped(qs) -> None:
    if getattr(qs.query, "gait_no_scope", False):
        current_organisation()  # raises NoOrganisationScope


class TenantQuerySet(models.QuerySet):
    """Outside a scope the manager's queryset matches nothing (so it is empty even as a subquery) and
    raises as soon as it is evaluated, counted, updated or deleted: fail closed, loudly. Building one is
    allowed (django-filter and DRF inspect querysets when classes are defined)."""

    def _fetch_all(self):
        _refuse_unscoped(self)
        return super()._fetch_all()

    def iterator(self, *args, **kwargs):
        _refuse_unscoped(self)
        return super().iterator(*args, **kwargs)

    def count(self):
        _refuse_unscoped(self)
        return super().count()

    def exists(self):
        _refuse_unscoped(self)
        return super().exists()

    def aggregate(self, *args, **kwargs):
        _refuse_unscoped(self)
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        _refuse_unscoped(self)
        return super().update(**kwargs)

    def delete(self):
        _refuse_unscoped(self)
        return super().delete()

    def create(self, **kwargs):
        org = current_organisation()
        given = kwargs.get("organisation") or kwargs.get("organisation_id")
        if given is not None and getattr(given, "pk", given) != org.pk:
            raise NoOrganisationScope("refusing to create a row for another organisation than the scope's")
        kwargs.pop("organisation_id", None)
        kwargs["organisation"] = org
        return super().create(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        org = current_organisation()
        for obj in objs:
            if obj.organisation_id is None:
                obj.organisation = org
            elif obj.organisation_id != org.pk:
                raise NoOrganisationScope("refusing to create rows for another organisation than the scope's")
        return super().bulk_create(objs, *args, **kwargs)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Default manager of tenant-owned models: scoped to the current organisation, fails closed."""

    def get_queryset(self):
        org = current_organisation_or_none()
        if org is None:
            qs = super().get_queryset().filter(organisation_id__in=[])
            qs.query.gait_no_scope = True
            return qs
        if self._hints:  # a related manager's routing hints: build it each time
            return super().get_queryset().filter(organisation_id=org.pk)
        key = (self.model, self._db, org.pk)
        base = _scoped_querysets.get(key)
        if base is None:
            if len(_scoped_querysets) > 4096:
                _scoped_querysets.clear()
            base = _scoped_querysets[key] = super().get_queryset().filter(organisation_id=org.pk)
        return base._chain()


# The scoped base queryset of a (model, database, organisation), built once per process: every request
# starts from it (a clone costs a fraction of building the organisation filter). Never evaluated itself.
_scoped_querysets: dict = {}


class TenantModel(models.Model):
    """Abstract base of every tenant-owned row: it carries its organisation."""

    organisation = models.ForeignKey("tenancy.Organisation", on_delete=models.CASCADE, related_name="+",
                                     editable=False)

    objects = TenantManager()
    unscoped = models.Manager()  # noqa: DJ012 - the explicit escape hatch (admin, auth, seeding)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.organisation_id is None and not getattr(self, "_platform_level", False) and (
                self._state.adding or not self._meta.get_field("organisation").null):
            # a new row takes the scope's organisation; a stored platform-level row (nullable organisation,
            # created by for_platform) stays platform-level when it is updated
            self.organisation = current_organisation()
        super().save(*args, **kwargs)

    @classmethod
    def for_platform(cls, **fields):
        """An unsaved platform-level row (no organisation), for the models whose ``organisation`` is
        nullable (global training jobs and their logs, platform audit events). Saving any other row
        without an organisation still needs a scope (fails closed)."""
        if not cls._meta.get_field("organisation").null:
            raise NoOrganisationScope(f"{cls.__name__} rows always belong to an organisation")
        obj = cls(**fields)
        obj._platform_level = True
        return obj
