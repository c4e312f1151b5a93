from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from tenancy.api.base import TenantModelViewSet, TenantReadOnlyViewSet, TenantViewSet, ValuesReadMixin
from tenancy.models import Perm

from .. import actions
from ..filtersets import CohortFilterSet, PhenotypeLabelFilterSet, PhenotypeTableFilterSet, SubjectFilterSet
from ..models import Cohort, PhenotypeLabel, PhenotypeTable, Subject
from . import serializers as s

MAX_PHENOTYPE_FILE = 20 * 1024 * 1024


class CohortViewSet(TenantModelViewSet):
    model = Cohort
    serializer_class = s.CohortSerializer
    filterset_class = CohortFilterSet
    ordering_fields = ["name", "created_at"]
    write_permission = Perm.MANAGE_COHORTS
    create_action, update_action, delete_action = actions.create_cohort, actions.update_cohort, actions.delete_cohort


class SubjectViewSet(ValuesReadMixin, TenantModelViewSet):
    """Pseudonymous subjects of the organisation's cohorts (``external_id`` is a pseudonym, never a name)."""

    model = Subject
    serializer_class = s.SubjectSerializer
    read_fields = tuple(s.SubjectSerializer.Meta.fields)
    filterset_class = SubjectFilterSet
    ordering_fields = ["external_id", "birth_year", "created_at"]
    write_permission = Perm.WRITE_SUBJECTS
    create_action, update_action, delete_action = actions.create_subject, actions.update_subject, actions.delete_subject

    @extend_schema(responses={200: s.ErasureReportSerializer})
    def destroy(self, request, pk=None):
        """Erase the subject (GDPR art. 17): sessions, their files, features, embeddings, predictions;
        200 with the erasure report."""
        return Response(actions.delete_subject(self.actor, self.get_object()))


class PhenotypeTableViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    """Phenotype label tables (CSV), validated row by row; the report lists every rejected row."""

    model = PhenotypeTable
    serializer_class = s.PhenotypeTableSerializer
    filterset_class = PhenotypeTableFilterSet
    ordering_fields = ["created_at", "name"]
    write_permission = Perm.PHENOTYPES
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": s.PhenotypeTableUploadSerializer},
                   responses={201: s.PhenotypeTableSerializer})
    def create(self, request):
        data = s.PhenotypeTableUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        f = data.validated_data["file"]
        if f.size > MAX_PHENOTYPE_FILE:
            from gaitsite.api import APIError

            raise APIError(413, "too_large", f"phenotype tables are limited to {MAX_PHENOTYPE_FILE} bytes")
        table = actions.import_phenotype_table(self.actor, name=data.validated_data["name"],
                                               cohort=data.validated_data["cohort"], data=f.read())
        return Response(s.PhenotypeTableSerializer(table).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        actions.delete_phenotype_table(self.actor, instance)


class PhenotypeLabelViewSet(TenantReadOnlyViewSet):
    model = PhenotypeLabel
    serializer_class = s.PhenotypeLabelSerializer
    filterset_class = PhenotypeLabelFilterSet
    ordering_fields = ["phenotype", "value"]
