from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from tenancy.api.base import TenantReadOnlyViewSet, TenantViewSet
from tenancy.models import Perm

from .. import actions
from ..models import Alias, AliasEvent, JobLog, PredictorVersion, TrainingJob
from . import serializers as s


class TrainingJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Training jobs of the organisation: start (org admins and researchers), follow, cancel, read logs."""

    model = TrainingJob
    serializer_class = s.TrainingJobSerializer
    select_related = ("encoder", "predictor")
    ordering_fields = ["created_at", "state"]
    write_permission = Perm.TRAIN_MODELS

    def get_queryset(self):
        return super().get_queryset().defer("snapshot")  # the manifest can be large; the API shows its hash

    @extend_schema(request=s.TrainingJobCreateSerializer, responses={201: s.TrainingJobSerializer})
    def create(self, request):
        data = s.TrainingJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        job = actions.start_job(self.actor, kind=v["kind"], label_table=v["label_table"], config=v["config"],
                                launcher=v["launcher"], encoder=v.get("encoder"))
        return Response(s.TrainingJobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.TrainingJobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = actions.cancel_job(self.actor, self.get_object())
        return Response(s.TrainingJobSerializer(job).data)

    @extend_schema(responses={200: s.JobLogSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        job = self.get_object()
        rows = JobLog.objects.filter(job=job).order_by("id")
        after = request.query_params.get("after")
        if after and after.isdigit():
            rows = rows.filter(id__gt=int(after))
        return Response(s.JobLogSerializer(rows[:1000], many=True).data)


class PredictorVersionViewSet(TenantReadOnlyViewSet):
    """The organisation's predictor versions: lineage, CV metrics per target, evaluation-set metrics, the
    representation each head uses. ``promote`` moves an alias to this version through the gate."""

    model = PredictorVersion
    serializer_class = s.PredictorVersionSerializer
    select_related = ("encoder",)
    prefetch_related = ("aliases",)
    ordering_fields = ["number", "created_at"]
    permissions_by_action = {"promote": Perm.MANAGE_MODELS}

    @extend_schema(request=s.PromoteSerializer, responses={200: s.AliasEventSerializer})
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """Make this version the ``champion`` (or ``challenger``). The champion must pass the gate: not
        worse than the current champion on the same evaluation set beyond the margin; an admin may
        override with a written reason (audited)."""
        candidate = self.get_object()
        data = s.PromoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        event = actions.promote(self.actor, candidate, alias=v["alias"], override_reason=v["override_reason"])
        return Response(s.AliasEventSerializer(event).data)


class AliasViewSet(TenantReadOnlyViewSet):
    """``champion`` / ``challenger`` of the organisation. ``rollback`` points one back at its previous
    target; ``repredict`` queues every processed session for prediction with the champion. Every move is
    an alias event."""

    model = Alias
    serializer_class = s.AliasSerializer
    select_related = ("predictor",)
    ordering_fields = ["name"]
    permissions_by_action = {"rollback": Perm.MANAGE_MODELS, "repredict": Perm.MANAGE_MODELS}

    @extend_schema(request=s.RollbackSerializer, responses={200: s.AliasEventSerializer})
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        alias = self.get_object()
        data = s.RollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = actions.rollback(self.actor, alias=alias.name, reason=data.validated_data["reason"])
        return Response(s.AliasEventSerializer(event).data)

    @extend_schema(request=None, responses={202: s.RepredictResultSerializer})
    @action(detail=True, methods=["post"])
    def repredict(self, request, pk=None):
        alias = self.get_object()
        return Response({"queued": actions.repredict(self.actor, alias)}, status=status.HTTP_202_ACCEPTED)


class AliasEventViewSet(TenantReadOnlyViewSet):
    """The append-only log of alias moves."""

    model = AliasEvent
    serializer_class = s.AliasEventSerializer
    ordering_fields = ["at"]
