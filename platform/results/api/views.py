from cohorts.models import Cohort
from django.http import JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from recordings.models import GaitSession
from rest_framework import mixins
from rest_framework.decorators import action
from tenancy.api.base import TenantReadOnlyViewSet, TenantViewSet
from tenancy.models import Perm

from .. import exports, fhir, selectors
from ..filtersets import EmbeddingFilterSet, PredictionFilterSet, QCReportFilterSet, TaskFeaturesFilterSet
from ..models import Embedding, Prediction, QCReport, TaskFeatures
from . import serializers as s


class QCReportViewSet(TenantReadOnlyViewSet):
    model = QCReport
    serializer_class = s.QCReportSerializer
    filterset_class = QCReportFilterSet
    ordering_fields = ["created_at"]


class TaskFeaturesViewSet(TenantReadOnlyViewSet):
    model = TaskFeatures
    serializer_class = s.TaskFeaturesSerializer
    filterset_class = TaskFeaturesFilterSet
    ordering_fields = ["created_at", "task"]


class EmbeddingViewSet(TenantReadOnlyViewSet):
    model = Embedding
    serializer_class = s.EmbeddingSerializer
    filterset_class = EmbeddingFilterSet
    ordering_fields = ["created_at", "task"]


class PredictionViewSet(TenantReadOnlyViewSet):
    """Predictions of every bundle that produced them (kept, keyed by versions), each with its ``lineage``;
    ``?live=true``: only the live bundle's (``results.selectors``)."""

    model = Prediction
    serializer_class = s.PredictionSerializer
    filterset_class = PredictionFilterSet
    select_related = ("session", "session__qc", "encoder_version", "predictor_version")
    ordering_fields = ["created_at", "phenotype", "value"]

    def get_serializer_context(self):
        ctx = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and getattr(self.request, "organisation", None):
            ctx["live_bundle"] = self._bundle()
        return ctx

    def _bundle(self):
        if not hasattr(self, "_live_bundle"):
            self._live_bundle = selectors.live_bundle()
        return self._live_bundle


_EXPORT = extend_schema(
    parameters=[OpenApiParameter("file_format", str, enum=["csv", "parquet"], default="csv")],
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
               (200, "application/vnd.apache.parquet"): OpenApiResponse(OpenApiTypes.BINARY)},
)


class CohortExportViewSet(TenantViewSet):
    """Cohort-level exports, streamed: ``/exports/{cohort}/features/?file_format=csv|parquet``."""

    model = Cohort
    permissions_by_action = {"features": Perm.EXPORT, "embeddings": Perm.EXPORT, "predictions": Perm.EXPORT}

    def _export(self, kind):
        return exports.stream_export(self.actor, self.get_object(), kind,
                                     self.request.query_params.get("file_format", "csv"))

    @_EXPORT
    @action(detail=True, methods=["get"])
    def features(self, request, pk=None):
        return self._export("features")

    @_EXPORT
    @action(detail=True, methods=["get"])
    def embeddings(self, request, pk=None):
        return self._export("embeddings")

    @_EXPORT
    @action(detail=True, methods=["get"])
    def predictions(self, request, pk=None):
        return self._export("predictions")


class SessionFHIRViewSet(mixins.RetrieveModelMixin, TenantViewSet):
    """A session's results as a FHIR R4 Bundle (``results.fhir``): ``/fhir/sessions/{id}/``."""

    model = GaitSession
    select_related = ("subject", "qc")

    @extend_schema(responses={(200, "application/fhir+json"): OpenApiResponse(OpenApiTypes.OBJECT)})
    def retrieve(self, request, pk=None):
        return JsonResponse(fhir.session_bundle(self.get_object()), content_type="application/fhir+json")
