"""Staff-only API of the platform's encoders and their rollouts (``/api/v1/platform/...``, on the platform
base ``tenancy.api.platform.PlatformViewSet``). Encoders and rollouts are global rows (no organisation);
every write goes through ``registry.rollouts`` (atomic, audited at platform level)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from tenancy.api.platform import PlatformViewSet

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


class _GlobalReadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformViewSet):
    """List and read global rows (models without an organisation: every row is platform-level)."""

    ordering_fields = ["id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.select_related(*self.select_related).order_by("-id")


class PlatformEncoderViewSet(_GlobalReadViewSet):
    """Encoder versions (global); ``promote`` starts a rollout of one."""

    model = EncoderVersion
    serializer_class = EncoderVersionSerializer
    select_related = ("job",)

    @extend_schema(request=None, responses={202: EncoderRolloutSerializer})
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        r = rollouts.start_rollout(self.actor, self.get_object())
        return Response(EncoderRolloutSerializer(r).data, status=status.HTTP_202_ACCEPTED)


class PlatformRolloutViewSet(_GlobalReadViewSet):
    """Encoder rollouts: progress, per-organisation results, the go-live verdict; override, rollback."""

    model = EncoderRollout
    serializer_class = EncoderRolloutSerializer
    select_related = ("from_encoder", "to_encoder")

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
