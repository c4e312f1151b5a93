"""Cohorts and subjects. Subjects are pseudonymous: an external id chosen by the clinic, never a name."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from tenancy.scope import TenantModel


class Cohort(TenantModel):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)  # archived cohorts leave the dashboards' lists

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="cohort_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


pseudonym = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                           "a pseudonym of letters, digits, '.', '_' or '-' (at most 64), never a name")


class Subject(TenantModel):
    cohort = models.ForeignKey(Cohort, on_delete=models.PROTECT, related_name="subjects")
    external_id = models.CharField(max_length=64, validators=[pseudonym])
    birth_year = models.PositiveSmallIntegerField(validators=[MinValueValidator(1900), MaxValueValidator(2100)])
    sex = models.CharField(max_length=8, choices=Sex.choices)
    height_cm = models.FloatField(null=True, blank=True, validators=[MinValueValidator(50), MaxValueValidator(260)])
    weight_kg = models.FloatField(null=True, blank=True, validators=[MinValueValidator(2), MaxValueValidator(400)])
    consent_research = models.BooleanField(default=False)
    consent_model_training = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["external_id", "id"]
        constraints = [models.UniqueConstraint(fields=["organisation", "external_id"],
                                               name="subject_external_id_unique_per_org")]

    def __str__(self) -> str:
        return self.external_id


class PhenotypeTable(TenantModel):
    """A CSV of phenotype labels per subject, validated row by row (the report is kept)."""

    name = models.CharField(max_length=200)
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="phenotype_tables")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    n_rows = models.PositiveIntegerField(default=0)
    n_accepted = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class PhenotypeLabel(TenantModel):
    table = models.ForeignKey(PhenotypeTable, on_delete=models.CASCADE, related_name="labels")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="phenotype_labels")
    phenotype = models.CharField(max_length=100)
    value = models.FloatField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["table", "subject", "phenotype"], name="one_label_per_cell")]
