"""What the processing pipeline produces per session (filled by workers; read-only through the API)."""

from __future__ import annotations

from django.db import models
from recordings.models import GaitSession
from tenancy.scope import TenantModel


class QCReport(TenantModel):
    """QC of a session (``gaitcore.qc``): ``passed``/``issues`` are the session's verdict, the gate on its
    results; ``tasks`` holds each recorded task's verdict in recording order: [{task, start, n_frames,
    duration_s, fraction_missing, fraction_low_confidence, jitter_mm, passed, issues}]."""

    session = models.OneToOneField(GaitSession, on_delete=models.CASCADE, related_name="qc")
    passed = models.BooleanField()
    metrics = models.JSONField(default=dict)
    issues = models.JSONField(default=list)
    tasks = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class TaskFeatures(TenantModel):
    """Engineered gait features of one task of a session: {feature name: value}."""

    session = models.ForeignKey(GaitSession, on_delete=models.CASCADE, related_name="features")
    task = models.CharField(max_length=64)
    values = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session_id", "task"]
        constraints = [models.UniqueConstraint(fields=["session", "task"], name="one_feature_set_per_task")]


class Embedding(TenantModel):
    """A GaitMAE embedding of one task of a session (task ``ensemble`` = the subject-level median)."""

    session = models.ForeignKey(GaitSession, on_delete=models.CASCADE, related_name="embeddings")
    task = models.CharField(max_length=64)
    model_name = models.CharField(max_length=64)
    model_version = models.CharField(max_length=64)
    vector = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session_id", "task", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "task", "model_name", "model_version"],
                                               name="one_embedding_per_task_and_model")]


class Prediction(TenantModel):
    """A phenotype prediction with its interval (``lower``..``upper`` at ``interval_level``)."""

    session = models.ForeignKey(GaitSession, on_delete=models.CASCADE, related_name="predictions")
    phenotype = models.CharField(max_length=100)
    body_system = models.CharField(max_length=64)
    value = models.FloatField()
    lower = models.FloatField(null=True, blank=True)
    upper = models.FloatField(null=True, blank=True)
    interval_level = models.FloatField(default=0.9)
    unit = models.CharField(max_length=32, blank=True)
    model_name = models.CharField(max_length=64)
    model_version = models.CharField(max_length=64)
    # the registry versions that produced it (null for file-configured predictors such as the demo one)
    encoder_version = models.ForeignKey("registry.EncoderVersion", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    predictor_version = models.ForeignKey("registry.PredictorVersion", null=True, blank=True,
                                          on_delete=models.PROTECT, related_name="predictions")
    reference_mean = models.FloatField(null=True, blank=True)
    reference_sd = models.FloatField(null=True, blank=True)
    reference_n = models.PositiveIntegerField(null=True, blank=True)
    reference_group = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session_id", "phenotype", "id"]
        indexes = [models.Index(fields=["organisation", "phenotype"])]


class CohortSummary(TenantModel):
    """Per cohort and embedding model version: what the dashboards show at a glance, refreshed by the
    pipeline's ``aggregate`` step after every processed session (counts, prediction means and SDs,
    feature medians). Recomputed from the rows, so reruns never drift."""

    cohort = models.ForeignKey("cohorts.Cohort", on_delete=models.CASCADE, related_name="summaries")
    model_version = models.CharField(max_length=64)
    n_subjects = models.PositiveIntegerField(default=0)
    n_sessions = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cohort_id", "model_version"]
        constraints = [models.UniqueConstraint(fields=["cohort", "model_version"], name="one_summary_per_cohort_and_model")]
