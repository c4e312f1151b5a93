from cohorts.models import Subject
from rest_framework import serializers

from .. import actions
from ..models import GaitSession, Upload, UploadMode


class GaitSessionSerializer(serializers.ModelSerializer):
    subject_external_id = serializers.SerializerMethodField()

    class Meta:
        model = GaitSession
        fields = ["id", "subject", "subject_external_id", "recorded_at", "sensor", "tasks", "n_frames",
                  "duration_s", "file_size", "sha256", "status", "status_reason", "attempts", "created_at",
                  "updated_at", "processed_at"]
        read_only_fields = [f for f in fields if f not in ("recorded_at",)]

    def get_subject_external_id(self, obj) -> str:
        annotated = getattr(obj, "subject_external_id", None)  # lists annotate it (no Subject rows loaded)
        return annotated if annotated is not None else obj.subject.external_id


class UploadSerializer(serializers.ModelSerializer):
    part_count = serializers.SerializerMethodField()
    duplicate = serializers.SerializerMethodField(
        help_text="true when this answers a create whose content is already stored as `session`: nothing to send")

    class Meta:
        model = Upload
        fields = ["id", "idempotency_key", "subject", "filename", "format", "size", "sha256", "tasks", "recorded_at",
                  "mode", "status", "offset", "part_size", "part_count", "error_code", "error_message", "session",
                  "duplicate", "created_at", "completed_at"]
        read_only_fields = fields

    def get_part_count(self, obj) -> int:
        return actions.part_count(obj)

    def get_duplicate(self, obj) -> bool:
        return bool(getattr(obj, "duplicate", False))


class UploadCreateSerializer(serializers.Serializer):
    subject = serializers.PrimaryKeyRelatedField(queryset=Subject.objects)
    format = serializers.CharField(max_length=32, help_text="gait-session (a .gait.npz session file)")
    size = serializers.IntegerField(min_value=1)
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", help_text="hex SHA-256 of the whole file")
    tasks = serializers.ListField(child=serializers.CharField(max_length=64), default=list,
                                  help_text="protocol tasks the file holds (checked on completion)")
    filename = serializers.CharField(max_length=255, required=False, default="")
    recorded_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    mode = serializers.ChoiceField(choices=UploadMode.choices, default=UploadMode.CHUNKED)
    idempotency_key = serializers.CharField(max_length=200, required=False,
                                            help_text="or the Idempotency-Key header")
    allow_duplicate = serializers.BooleanField(
        default=False, help_text="store this content again even if the organisation already has it as a session")

    def validate_tasks(self, value):
        return actions.validate_tasks(value)


class PresignRequestSerializer(serializers.Serializer):
    parts = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)


class PresignedPartSerializer(serializers.Serializer):
    part = serializers.IntegerField()
    url = serializers.URLField()
    size = serializers.IntegerField()


class UploadStatusSerializer(UploadSerializer):
    parts = serializers.ListField(child=serializers.DictField(), read_only=True, required=False)

    class Meta(UploadSerializer.Meta):
        fields = [*UploadSerializer.Meta.fields, "parts"]
        read_only_fields = fields
