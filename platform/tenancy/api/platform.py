"""The required base of every PLATFORM-level API viewset (``/api/v1/platform/...``): platform staff only.

Kept apart from the tenant base (``tenancy.api.base.TenantViewSet``) on purpose: a platform viewset never
enters an organisation scope and reads only platform-level rows (``organisation IS NULL``: global training
jobs and their logs), through the model's explicit ``unscoped`` manager restricted here, in one place.
Platform staff = a signed-in Django user with ``is_staff`` (and, as for every staff web session, a
verified second factor: ``tenancy.middleware.RequireSecondFactorMiddleware``). API tokens belong to an
organisation and are never staff; every other caller gets 403 on every route and method.
"""

from __future__ import annotations

from rest_framework import exceptions, permissions, viewsets

from ..scope import TenantModel


class IsPlatformStaff(permissions.BasePermission):
    message = "platform staff only"

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False  # 401
        if not getattr(user, "is_staff", False) or getattr(user, "pk", None) is None:
            raise exceptions.PermissionDenied("platform staff only: this endpoint manages platform-level "
                                              "objects (global training jobs); organisation members and "
                                              "API tokens use the organisation's endpoints")
        return True


class PlatformViewSet(viewsets.GenericViewSet):
    """Base of the platform-level viewsets. Subclasses set ``model`` (a model with a nullable
    ``organisation``: only its platform-level rows are reachable) and ``select_related``."""

    model: type
    select_related: tuple[str, ...] = ()
    permission_classes = [permissions.IsAuthenticated, IsPlatformStaff]
    platform = True  # tests/platform/routes.py tells platform routes from tenant ones by this

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        model = getattr(cls, "model", None)
        if model is not None and issubclass(model, TenantModel) and not model._meta.get_field("organisation").null:
            raise TypeError(f"{cls.__name__}.model {model.__name__} has no platform-level rows")

    def get_queryset(self):
        qs = self.model.unscoped.filter(organisation__isnull=True)  # platform-level rows only
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        return qs

    def filter_queryset(self, queryset):
        if getattr(self, "action", None) != "list":
            return queryset
        return super().filter_queryset(queryset)

    @property
    def actor(self):
        from ..audit import Actor

        return Actor(user=self.request.user, role="staff")
