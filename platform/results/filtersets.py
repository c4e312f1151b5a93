import django_filters
from cohorts.models import Cohort, Subject
from recordings.models import GaitSession
from tenancy.filtersets import scoped_choice

from .models import Embedding, Prediction, QCReport, TaskFeatures


class _ResultFilterSet(django_filters.FilterSet):
    session = scoped_choice(GaitSession, "session")
    subject = scoped_choice(Subject, "session__subject")
    cohort = scoped_choice(Cohort, "session__subject__cohort")


class QCReportFilterSet(_ResultFilterSet):
    class Meta:
        model = QCReport
        fields = ["passed"]


class TaskFeaturesFilterSet(_ResultFilterSet):
    class Meta:
        model = TaskFeatures
        fields = ["task"]


class EmbeddingFilterSet(_ResultFilterSet):
    class Meta:
        model = Embedding
        fields = ["task", "model_name", "model_version"]


class PredictionFilterSet(_ResultFilterSet):
    live = django_filters.BooleanFilter(method="filter_live", label="only the live bundle's predictions")

    def filter_live(self, queryset, name, value):
        from django.db.models import Q

        from .selectors import live_bundle

        enc, pname = live_bundle()
        q = Q()
        if enc is not None:
            q &= Q(model_version=enc)
        if pname is not None:
            q &= Q(model_name=pname)
        return queryset.filter(q) if value else queryset.exclude(q) if q else queryset.none()

    class Meta:
        model = Prediction
        fields = ["phenotype", "body_system", "model_name", "model_version"]
