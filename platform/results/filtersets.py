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
    class Meta:
        model = Prediction
        fields = ["phenotype", "body_system", "model_name", "model_version"]
