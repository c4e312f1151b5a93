"""Staff-only API of the platform's encoders and their rollouts (``/api/v1/platform/...``). Not tenant
data: no organisation scope, and only platform staff (``is_staff``) may call it; every write goes through
``registry.rollouts`` (atomic, audited at platform level)."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from tenancy.audit import Actor

from .. import rollouts
from ..models import EncoderRollout, EncoderVersion


class EncoderVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = EncoderVersion
        fields = ["id", "version_tag", "config_name", "weights_digest", "file_sha256", "status", "is_default",
                  "artifact_uri", "source", "parent", "job", "metrics", "created_at"]
        read_only_fields = fields


class EncoderRolloutSerializer(serializers.ModelSerializer):
    from_encoder = serializers.SlugRelatedField(slug_field="version_tag", read_only=True)
    to_encoder = serializers.SlugRelatedField(slug_field="version_tag", read_only=True)

    class Meta:
        model = EncoderRollout
        fields = ["id", "from_encoder", "to_encoder", "state", "reason", "progress", "results", "verdict",
                  "override_reason", "alias_events", "started_by", "attempts", "heartbeat_at", "created_at",
                  "live_at", "finished_at"]
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, required=False, default="")


class PlatformStaffViewSet(viewsets.ReadOnlyModelViewSet):
    """Base of the staff-only platform endpoints (encoder promotion)."""

    permission_classes = [permissions.IsAuthenticated, permissions.IsAdminUser]

    @property
    def actor(self) -> Actor:
        return Actor.from_request(self.request)


class PlatformEncoderViewSet(PlatformStaffViewSet):
    """Encoder versions (global); ``promote`` starts a rollout of one."""

    queryset = EncoderVersion.objects.select_related("job").order_by("-id")
    serializer_class = EncoderVersionSerializer

    @extend_schema(request=None, responses={202: EncoderRolloutSerializer})
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        r = rollouts.start_rollout(self.actor, self.get_object())
        return Response(EncoderRolloutSerializer(r).data, status=status.HTTP_202_ACCEPTED)


class PlatformRolloutViewSet(PlatformStaffViewSet):
    """Encoder rollouts: progress, per-organisation results, the go-live verdict; override, rollback."""

    queryset = EncoderRollout.objects.select_related("from_encoder", "to_encoder").order_by("-id")
    serializer_class = EncoderRolloutSerializer

    @extend_schema(request=ReasonSerializer, responses={200: EncoderRolloutSerializer})
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        r = rollouts.override(self.actor, self.get_object(), data.validated_data["reason"])
        return Response(EncoderRolloutSerializer(r).data)

    @extend_schema(request=ReasonSerializer, responses={200: EncoderRolloutSerializer})
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        r = rollouts.rollback_rollout(self.actor, self.get_object(), data.validated_data["reason"])
        return Response(EncoderRolloutSerializer(r).data)
