"""Platform-level registry endpoints (``/api/v1/platform/...``), platform staff only
(``tenancy.api.platform.PlatformViewSet``): global training jobs (``pretrain-encoder``)."""

from django.db.models import F
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from tenancy.api.platform import PlatformViewSet

from .. import actions
from ..models import JobLog, TrainingJob
from . import serializers as s


class PlatformTrainingJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    """Global training jobs: start a ``pretrain-encoder`` job (its snapshot: organisations that opted in to
    pooled pretraining, subjects with training consent), follow it, cancel it, read its log."""

    model = TrainingJob
    serializer_class = s.PlatformTrainingJobSerializer
    select_related = ("encoder", "encoder_produced", "started_by")
    ordering_fields = ["created_at", "state"]

    def get_queryset(self):
        # the manifest can be large: the API reads only its counts
        return super().get_queryset().defer("snapshot").annotate(
            snapshot_included=F("snapshot__included"), snapshot_excluded=F("snapshot__excluded"))

    @extend_schema(request=s.PretrainJobCreateSerializer, responses={201: s.PlatformTrainingJobSerializer})
    def create(self, request):
        data = s.PretrainJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        job = actions.start_pretrain_job(self.actor, config=v["config"], launcher=v["launcher"],
                                         encoder=v.get("encoder"))
        return Response(s.PlatformTrainingJobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.PlatformTrainingJobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = actions.cancel_job(self.actor, self.get_object())
        return Response(s.PlatformTrainingJobSerializer(job).data)

    @extend_schema(responses={200: s.JobLogSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        job = self.get_object()
        rows = JobLog.unscoped.filter(job=job, organisation__isnull=True).order_by("id")
        after = request.query_params.get("after")
        if after and after.isdigit():
            rows = rows.filter(id__gt=int(after))
        return Response(s.JobLogSerializer(rows[:1000], many=True).data)
