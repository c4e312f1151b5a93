import django_filters
from cohorts.models import Cohort, Subject
from tenancy.filtersets import scoped_choice

from .models import GaitSession, Upload


class GaitSessionFilterSet(django_filters.FilterSet):
    subject = scoped_choice(Subject, "subject")
    cohort = scoped_choice(Cohort, "subject__cohort")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = GaitSession
        fields = ["status", "sensor"]


class UploadFilterSet(django_filters.FilterSet):
    subject = scoped_choice(Subject, "subject")

    class Meta:
        model = Upload
        fields = ["status", "mode"]
