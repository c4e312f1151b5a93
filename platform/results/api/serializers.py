from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gaitcore.phenotypes import info

from .. import verdict
from ..models import Embedding, Prediction, QCReport, TaskFeatures
from ..selectors import lineage


class QCReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = QCReport
        fields = ["id", "session", "passed", "metrics", "issues", "tasks", "created_at"]
        read_only_fields = fields


class TaskFeaturesSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskFeatures
        fields = ["id", "session", "task", "values", "created_at"]
        read_only_fields = fields


class EmbeddingSerializer(serializers.ModelSerializer):
    dim = serializers.SerializerMethodField()

    class Meta:
        model = Embedding
        fields = ["id", "session", "task", "model_name", "model_version", "dim", "vector", "created_at"]
        read_only_fields = fields

    def get_dim(self, obj) -> int:
        return len(obj.vector)


class PredictionSerializer(serializers.ModelSerializer):
    """A prediction with its catalogue entry, its session's QC verdict and recording date. A prediction of a
    session whose QC failed is withheld: ``value``, ``lower`` and ``upper`` are null and ``withheld`` says
    why (``results.verdict``)."""

    value = serializers.SerializerMethodField()
    lower = serializers.SerializerMethodField()
    upper = serializers.SerializerMethodField()
    display_name = serializers.SerializerMethodField()
    unit_ucum = serializers.SerializerMethodField()
    loinc = serializers.SerializerMethodField()
    recorded_at = serializers.SerializerMethodField()
    qc_passed = serializers.SerializerMethodField()
    withheld = serializers.SerializerMethodField()
    out_of_range = serializers.SerializerMethodField()
    lineage = serializers.SerializerMethodField()

    class Meta:
        model = Prediction
        fields = ["id", "session", "phenotype", "display_name", "body_system", "value", "lower", "upper",
                  "interval_level", "unit", "unit_ucum", "loinc", "model_name", "model_version", "predictor_version",
                  "encoder_version", "lineage", "recorded_at", "qc_passed", "withheld", "out_of_range", "created_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "properties": {
        "encoder": {"type": "object", "nullable": True}, "predictor": {"type": "object"},
        "live": {"type": "boolean"}}})
    def get_lineage(self, obj) -> dict:
        """Which encoder (tag, weights digest, the pretraining job) and predictor (number, name, training
        job, snapshot hash) produced the prediction, and whether they are the bundle served now (``live``:
        the pages show the live bundle's predictions; older ones are kept)."""
        return lineage(obj, self.context.get("live_bundle"))

    def _shown(self, obj, attr) -> float | None:
        return None if verdict.withheld_reason(obj.session) else getattr(obj, attr)

    def get_value(self, obj) -> float | None:
        return self._shown(obj, "value")

    def get_lower(self, obj) -> float | None:
        return self._shown(obj, "lower")

    def get_upper(self, obj) -> float | None:
        return self._shown(obj, "upper")

    def get_display_name(self, obj) -> str:
        return info(obj.phenotype).display

    def get_unit_ucum(self, obj) -> str:
        return "1" if obj.unit == "probability" else info(obj.phenotype).ucum

    def get_loinc(self, obj) -> str:
        return info(obj.phenotype).loinc

    def get_recorded_at(self, obj) -> str:
        return verdict.recorded_on(obj.session).isoformat()

    def get_qc_passed(self, obj) -> bool | None:
        return verdict.qc_verdict(obj.session)[0]

    def get_withheld(self, obj) -> str:
        return verdict.withheld_reason(obj.session)

    def get_out_of_range(self, obj) -> str:
        return "" if verdict.withheld_reason(obj.session) else verdict.flag(obj)
