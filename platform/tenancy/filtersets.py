"""Filter sets of the tenancy API, and ``scoped_choice``: the foreign-key filter every app's filter sets use
(its choices come from the scoped manager at request time)."""

import django_filters

from .models import APIToken, AuditEvent, Membership


def scoped_choice(model, field_name: str, **kwargs) -> django_filters.ModelChoiceFilter:
    """A foreign-key filter over the current organisation's rows (another's id is an invalid choice)."""
    return django_filters.ModelChoiceFilter(field_name=field_name, queryset=lambda request: model.objects.all(), **kwargs)


class MembershipFilterSet(django_filters.FilterSet):
    username = django_filters.CharFilter(field_name="user__username")

    class Meta:
        model = Membership
        fields = ["role"]


class APITokenFilterSet(django_filters.FilterSet):
    active = django_filters.BooleanFilter(method="filter_active")

    class Meta:
        model = APIToken
        fields = ["role"]

    def filter_active(self, qs, name, value):
        from django.utils import timezone

        active = qs.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
        return active if value else qs.exclude(pk__in=active.values("pk"))


class AuditEventFilterSet(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    action = django_filters.CharFilter(field_name="action", lookup_expr="startswith")

    class Meta:
        model = AuditEvent
        fields = ["object_type", "object_id"]
