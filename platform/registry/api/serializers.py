from cohorts.models import PhenotypeTable
from rest_framework import serializers

from ..models import Alias, AliasEvent, AliasName, EncoderVersion, JobLog, PredictorVersion, TrainingJob


class TrainingJobSerializer(serializers.ModelSerializer):
    encoder = serializers.CharField(source="encoder.version_tag", read_only=True)
    predictor_version = serializers.SerializerMethodField()

    class Meta:
        model = TrainingJob
        fields = ["id", "kind", "scope", "launcher", "state", "reason", "config", "config_hash", "encoder",
                  "label_table", "snapshot_hash", "n_sessions", "progress", "metrics", "artifacts",
                  "cancel_requested", "attempts", "predictor_version", "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_predictor_version(self, obj) -> int | None:
        pv = getattr(obj, "predictor", None) if obj.state == "succeeded" else None
        return pv.pk if pv else None


class TrainingJobCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["finetune-heads"], default="finetune-heads")
    label_table = serializers.PrimaryKeyRelatedField(queryset=PhenotypeTable.objects,
                                                     help_text="the phenotype table (version) to train on")
    launcher = serializers.ChoiceField(choices=["local"], default="local")
    encoder = serializers.SlugRelatedField(slug_field="version_tag", queryset=EncoderVersion.objects.filter(status="active"),
                                           required=False, help_text="encoder version tag (default: the newest active)")
    config = serializers.DictField(required=False, default=dict,
                                   help_text="targets, representations, sex_specific, seeds, level, eval_fraction")


class JobLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobLog
        fields = ["id", "at", "level", "message"]
        read_only_fields = fields


class PredictorVersionSerializer(serializers.ModelSerializer):
    encoder = serializers.CharField(source="encoder.version_tag", read_only=True)
    aliases = serializers.SerializerMethodField()

    class Meta:
        model = PredictorVersion
        fields = ["id", "number", "name", "encoder", "job", "parent", "status", "aliases", "snapshot_hash",
                  "code_version", "config", "config_hash", "cv_metrics", "representation", "eval_set_hash",
                  "eval_metrics", "comparisons", "arrays_sha256", "n_training_subjects", "created_at"]
        read_only_fields = fields

    def get_aliases(self, obj) -> list[str]:
        return [a.name for a in obj.aliases.all()]


class AliasSerializer(serializers.ModelSerializer):
    predictor_name = serializers.CharField(source="predictor.name", read_only=True)

    class Meta:
        model = Alias
        fields = ["id", "name", "predictor", "predictor_name", "updated_at"]
        read_only_fields = fields


class AliasEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AliasEvent
        fields = ["id", "alias", "action", "from_predictor", "to_predictor", "reason", "gate", "at"]
        read_only_fields = fields


class PromoteSerializer(serializers.Serializer):
    alias = serializers.ChoiceField(choices=AliasName.choices, default="champion")
    override_reason = serializers.CharField(required=False, allow_blank=True, default="",
                                            help_text="admins only: promote despite the gate, with this written reason")


class RollbackSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RepredictResultSerializer(serializers.Serializer):
    queued = serializers.IntegerField()


class PlatformTrainingJobSerializer(TrainingJobSerializer):
    """A global job (``pretrain-encoder``): what its snapshot included and excluded (and why), and the
    encoder version it produced (a ``candidate`` until promoted)."""

    included = serializers.SerializerMethodField()
    excluded = serializers.SerializerMethodField()
    encoder_produced = serializers.SerializerMethodField()
    started_by = serializers.CharField(source="started_by.username", read_only=True, default=None, allow_null=True)

    class Meta(TrainingJobSerializer.Meta):
        fields = [*TrainingJobSerializer.Meta.fields, "included", "excluded", "encoder_produced", "started_by"]
        read_only_fields = fields

    def get_included(self, obj) -> dict:
        if hasattr(obj, "snapshot_included"):
            return obj.snapshot_included or {}
        return (obj.snapshot or {}).get("included", {})

    def get_excluded(self, obj) -> dict:
        if hasattr(obj, "snapshot_excluded"):
            return obj.snapshot_excluded or {}
        return (obj.snapshot or {}).get("excluded", {})

    def get_encoder_produced(self, obj) -> dict | None:
        enc = getattr(obj, "encoder_produced", None)
        if enc is None:
            return None
        return {"id": enc.pk, "version_tag": enc.version_tag, "status": enc.status, "weights_digest": enc.weights_digest,
                "artifact_uri": enc.artifact_uri}


class PretrainJobCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["pretrain-encoder"], default="pretrain-encoder")
    launcher = serializers.ChoiceField(choices=["local", "kubernetes"], default="local")
    encoder = serializers.SlugRelatedField(slug_field="version_tag", queryset=EncoderVersion.objects.all(),
                                           required=False, allow_null=True,
                                           help_text="warm start from this encoder version (same config); "
                                                     "default: from scratch")
    config = serializers.DictField(required=False, default=dict,
                                   help_text="config (tiny, small, paper), steps, batch_size, ckpt_every, seed, lr, "
                                             "warmup_steps, val_fraction, log_every, micro_batch; kubernetes: "
                                             "nodes, nproc_per_node, gpus_per_node, cpu, memory, deadline_s, "
                                             "backoff_limit, image")
