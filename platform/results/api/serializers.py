from rest_framework import serializers

from ..models import Embedding, Prediction, QCReport, TaskFeatures


class QCReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = QCReport
        fields = ["id", "session", "passed", "metrics", "issues", "created_at"]
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
    class Meta:
        model = Prediction
        fields = ["id", "session", "phenotype", "body_system", "value", "lower", "upper", "interval_level", "unit",
                  "model_name", "model_version", "predictor_version", "encoder_version", "created_at"]
        read_only_fields = fields
