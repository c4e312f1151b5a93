from rest_framework import serializers

from ..models import Cohort, PhenotypeLabel, PhenotypeTable, Subject


class CohortSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cohort
        fields = ["id", "name", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class SubjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Subject
        fields = ["id", "cohort", "external_id", "birth_year", "sex", "height_cm", "weight_kg",
                  "consent_research", "consent_model_training", "created_at"]
        read_only_fields = ["id", "created_at"]


class PhenotypeTableSerializer(serializers.ModelSerializer):
    class Meta:
        model = PhenotypeTable
        fields = ["id", "name", "cohort", "created_at", "n_rows", "n_accepted", "report"]
        read_only_fields = fields


class PhenotypeTableUploadSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    cohort = serializers.PrimaryKeyRelatedField(queryset=Cohort.objects)
    file = serializers.FileField(help_text="CSV: a 'subject' column (external id), then one column per phenotype")


class PhenotypeLabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = PhenotypeLabel
        fields = ["id", "table", "subject", "phenotype", "value"]
        read_only_fields = fields


class ErasureReportSerializer(serializers.Serializer):
    """What ``DELETE /subjects/{id}/`` removed (``results.erasure``)."""

    subject = serializers.CharField(help_text="the pseudonymous hash the audit log keeps")
    erased_at = serializers.DateTimeField()
    removed = serializers.DictField(child=serializers.IntegerField(), help_text="rows removed, per kind")
    storage = serializers.DictField(help_text="keys_deleted, keys_checked_absent, keys_still_present")
    complete = serializers.BooleanField(help_text="every storage key was checked absent")
