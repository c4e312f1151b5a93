"""The required base of every tenant API viewset: resolves the organisation, enters its scope, checks the
role. Subclasses declare ``model`` (a ``TenantModel``) and the permission each action needs; querysets
come only from the model's scoped manager, so another organisation's object is simply not found (404).

Organisation of a request: the token's (token requests); otherwise the ``X-Organisation: <slug>``
header, else the organisation chosen for this web session, else the user's first membership.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions, mixins, permissions, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from ..models import Membership, Organisation, Perm, role_can
from ..scope import TenantModel, enter_scope, exit_scope

SESSION_ORG_KEY = "gait_organisation_id"


def resolve_organisation(request) -> tuple[Organisation, str]:
    """(organisation, role) of an authenticated request; 404 for an organisation one is not part of."""
    from ..models import APIToken

    if isinstance(request.auth, APIToken):
        return request.auth.organisation, request.auth.role
    user = request.user
    if not getattr(user, "pk", None):
        raise exceptions.NotAuthenticated()
    memberships = Membership.unscoped.select_related("organisation").filter(user=user)
    slug = request.headers.get("X-Organisation")
    if slug:
        m = memberships.filter(organisation__slug=slug).first()
        if m is None:
            raise exceptions.NotFound(f"no organisation {slug!r}")
        return m.organisation, m.role
    chosen = request.session.get(SESSION_ORG_KEY) if hasattr(request, "session") else None
    m = None
    if chosen:
        m = memberships.filter(organisation_id=chosen).first()
    if m is None:
        m = memberships.order_by("organisation__name", "organisation_id").first()
    if m is None:
        raise exceptions.PermissionDenied("you are not a member of any organisation")
    return m.organisation, m.role


class HasOrganisationPermission(permissions.BasePermission):
    """The request's role (membership or token) must grant the action's permission."""

    def has_permission(self, request, view):
        perm = view.required_permission()
        if perm is None:
            return True
        if not role_can(request.organisation_role, perm):
            raise exceptions.PermissionDenied(f"your role ({request.organisation_role}) may not {perm.replace('_', ' ')}")
        return True


class TenantViewSet(viewsets.GenericViewSet):
    """Base of every tenant API viewset. Subclasses set ``model`` and may set:

    * ``permissions_by_action`` -- {action: Perm}; reads default to ``Perm.READ``, writes to
      ``write_permission``;
    * ``select_related`` / ``prefetch_related`` -- applied to every queryset (constant query counts).
    """

    model: type[TenantModel]
    write_permission: str = Perm.MANAGE_COHORTS
    permissions_by_action: dict[str, str] = {}
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    permission_classes = [permissions.IsAuthenticated, HasOrganisationPermission]
    read_actions = ("list", "retrieve", "metadata")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        model = getattr(cls, "model", None)
        if model is not None and not issubclass(model, TenantModel):
            raise TypeError(f"{cls.__name__}.model must be a TenantModel (it is {model!r})")

    def required_permission(self) -> str | None:
        action = getattr(self, "action", None)
        if action in self.permissions_by_action:
            return self.permissions_by_action[action]
        if action in self.read_actions or self.request.method in permissions.SAFE_METHODS:
            return Perm.READ
        return self.write_permission

    # --- the scope ---------------------------------------------------------------------------------
    def check_permissions(self, request):
        # Called by initial() right after authentication: enter the organisation's scope, then check roles.
        if not request.user or not request.user.is_authenticated:
            self.permission_denied(request)  # 401
        org, role = resolve_organisation(request)
        request.organisation, request.organisation_role = org, role
        self._scope_token = enter_scope(org)
        super().check_permissions(request)

    def finalize_response(self, request, response, *args, **kwargs):
        token = getattr(self, "_scope_token", None)
        if token is not None:
            exit_scope(token)
            self._scope_token = None
        return super().finalize_response(request, response, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no scope
            return self.model.unscoped.none()
        qs = self.model.objects.all()  # scoped; raises outside a scope (fail closed)
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        return qs

    def filter_queryset(self, queryset):
        # Filters and ordering apply to lists; a detail lookup is by id only (building the filter form
        # for it costs a third of a detail request).
        if getattr(self, "action", None) != "list":
            return queryset
        return super().filter_queryset(queryset)

    @property
    def actor(self):
        from ..audit import Actor

        return Actor.from_request(self.request)


class ValuesReadMixin:
    """List and retrieve actions that read ``queryset.values(*read_fields)`` and answer those dicts,
    instead of model instances through the serializer: for resources of plain columns (numbers,
    strings, JSON, datetimes; a foreign key by its id) read by every API client, where building the
    serializer's fields and an instance per row is most of a read's CPU (measured with ``bench/api.py``:
    docs/experiments/2026-12-api-public-apis.md). ``read_fields`` names the serializer's fields in its order
    (``tuple(Serializer.Meta.fields)``); a view may override ``read_queryset`` to add the annotations
    they name. Datetimes are written as DRF's ``DateTimeField`` writes them (ISO 8601 in the current
    time zone, ``Z`` for UTC). Writes and their responses use the serializer; tests compare each row
    with the serializer's output for the same object (tests/platform/gaitsite/test_values_reads.py)."""

    read_fields: tuple[str, ...] = ()

    def read_queryset(self, queryset):
        """The rows of ``queryset`` as dicts of ``read_fields``."""
        return queryset.values(*self.read_fields)

    def list(self, request, *args, **kwargs):
        rows = self.read_queryset(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(rows)
        if page is None:
            return Response(self.render_rows(rows))
        return self.get_paginated_response(self.render_rows(page))

    def retrieve(self, request, *args, **kwargs):
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        rows = self.read_queryset(self.filter_queryset(self.get_queryset()))
        row = get_object_or_404(rows, **{self.lookup_field: self.kwargs[lookup_url_kwarg]})
        self.check_object_permissions(request, row)
        return Response(self.render_rows([row])[0])

    def render_rows(self, rows) -> list[dict]:
        tz = timezone.get_current_timezone() if settings.USE_TZ else None  # as DRF's DateTimeField
        names, out = self.read_fields, []
        for row in rows:
            item = {}
            for name in names:
                value = row[name]
                if isinstance(value, dt.datetime):
                    value = (value.astimezone(tz) if tz is not None and timezone.is_aware(value) else value).isoformat()
                    if value.endswith("+00:00"):
                        value = value[:-6] + "Z"
                item[name] = value
            out.append(item)
        return out


class TenantReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    pass


class TenantModelViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    """CRUD whose writes go through the app's action functions (atomic, audited):
    ``create_action(actor, **data)``, ``update_action(actor, obj, **data)``, ``delete_action(actor, obj)``."""

    create_action = update_action = delete_action = None

    def perform_create(self, serializer):
        serializer.instance = type(self).create_action(self.actor, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = type(self).update_action(self.actor, serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        type(self).delete_action(self.actor, instance)
