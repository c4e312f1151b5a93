"""What the dashboards need that no other app stores.

* ``PredictorCard`` -- the provenance of a predictor (``Prediction.model_name`` + ``model_version``): on
  what cohort it was trained, whether it is demonstration-only, and the body-part attribution of its
  ablation (per body system: legs, arms, torso, head importances). Shown next to every prediction. Not
  tenant-owned: a card describes a model, not an organisation's data (it holds no subject data).

(Invitations live in ``tenancy.models``: memberships are made only by accepting one.)
"""

from __future__ import annotations

from django.db import models


class PredictorCard(models.Model):
    model_name = models.CharField(max_length=64)
    model_version = models.CharField(max_length=64)
    trained_on = models.CharField(max_length=200, help_text="the training cohort, in words")
    cohort_kind = models.CharField(max_length=16, choices=[("synthetic", "synthetic"), ("real", "real")])
    demonstration_only = models.BooleanField(default=True)
    method = models.CharField(max_length=300, blank=True, help_text="how the values were produced")
    n_training_subjects = models.PositiveIntegerField(default=0)
    attribution = models.JSONField(default=dict, blank=True)  # {system: {legs, arms, torso, head}}
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_name", "model_version"], name="one_card_per_model")]

    def __str__(self) -> str:
        return f"{self.model_name} {self.model_version}"

    def save(self, *args, **kwargs):
        if self.cohort_kind == "synthetic":
            self.demonstration_only = True  # a synthetic-trained predictor is never clinical
        super().save(*args, **kwargs)
