"""The model registry: encoder versions, per-organisation predictor versions, aliases, training jobs.

* ``EncoderVersion`` -- global (a GaitMAE checkpoint; its ``version_tag`` is what inference reports as
  ``model_version``). The shipped checkpoint is the first (data migration 0002).
* ``PredictorVersion`` -- an organisation's fitted heads on one encoder version, with lineage (snapshot
  hash, code version, config + hash, parent, who started it), CV metrics per target, metrics on the
  fixed, hashed evaluation set, and the artifact (JSON + NPZ coefficients in storage, never pickles).
* ``Alias`` -- ``champion`` / ``challenger`` per organisation, pointing at a predictor version; moved only
  by ``registry.actions`` inside a transaction, each move an ``AliasEvent`` (append-only).
* ``TrainingJob`` -- a job of a ``kind`` (``finetune-heads`` now), its state machine, progress, logs,
  metrics, artifacts and frozen data snapshot; launched by a named launcher backend.
* ``PredictorCard`` -- the provenance of a predictor named in ``Prediction.model_name`` +
  ``model_version`` (file-configured predictors such as the demo one; every predictor version gets one
  too). Global: a card describes a model, it holds no subject data.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from tenancy.scope import TenantModel


class EncoderVersion(models.Model):
    """A GaitMAE checkpoint (global). ``version_tag`` = ``Embedding.model_version`` of its embeddings."""

    version_tag = models.CharField(max_length=64, unique=True)
    config_name = models.CharField(max_length=32)
    weights_digest = models.CharField(max_length=64, help_text="gaitcore.model.checkpoint.weights_digest")
    file_sha256 = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=300, blank=True, help_text="where the checkpoint comes from")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, default="active",
                              choices=[("candidate", "candidate"), ("active", "active"), ("retired", "retired")],
                              help_text="candidate: trained, not yet promoted; active: may serve; retired: no longer")
    artifact_uri = models.CharField(max_length=500, blank=True,
                                    help_text="where the checkpoint file lives (checkpoint-store URL or repository path)")
    job = models.OneToOneField("TrainingJob", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="encoder_produced", help_text="the pretraining job that produced it")
    metrics = models.JSONField(default=dict, blank=True, help_text="the pretraining run's summary")
    is_default = models.BooleanField(default=False, help_text="the encoder inference serves by default, set by an "
                                     "encoder rollout (none set: the configured checkpoint)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                               name="one_default_encoder")]

    def __str__(self) -> str:
        return self.version_tag


class JobKind(models.TextChoices):
    FINETUNE_HEADS = "finetune-heads", "fine-tune heads"
    PRETRAIN_ENCODER = "pretrain-encoder", "pretrain encoder"


class JobState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class TrainingJob(TenantModel):
    """A training job. ``scope`` says whose data it may read: ``organisation`` (its organisation's only) or
    ``global`` (platform-level, e.g. encoder pretraining: no organisation, started by platform staff)."""

    organisation = models.ForeignKey("tenancy.Organisation", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+", editable=False,
                                     help_text="null for a platform-level (global scope) job")
    kind = models.CharField(max_length=32, choices=JobKind.choices)
    scope = models.CharField(max_length=16, default="organisation")
    launcher = models.CharField(max_length=32, default="local", help_text="workers.launchers backend")
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    reason = models.TextField(blank=True, help_text="why the job is in its state (always set when final)")
    config = models.JSONField(default=dict)
    config_hash = models.CharField(max_length=64)
    encoder = models.ForeignKey(EncoderVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="finetune-heads: the encoder whose embeddings it fits; pretrain-encoder: "
                                          "the encoder it starts from (null: from scratch)")
    label_table = models.ForeignKey("cohorts.PhenotypeTable", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    snapshot = models.JSONField(default=dict, blank=True, help_text="frozen data snapshot (manifest)")
    snapshot_hash = models.CharField(max_length=64, blank=True)
    n_sessions = models.PositiveIntegerField(default=0, help_text="sessions in the snapshot")
    progress = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    artifacts = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the process running it")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.state})"

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class JobLog(TenantModel):
    """One line of a job's log (append-only)."""

    organisation = models.ForeignKey("tenancy.Organisation", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+", editable=False, help_text="the job's (null for a global job)")
    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="logs")
    at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=8, default="info")
    message = models.TextField()

    class Meta:
        ordering = ["id"]


class PredictorVersion(TenantModel):
    """Fitted heads of one organisation on one encoder version."""

    number = models.PositiveIntegerField(help_text="1, 2, ... per organisation")
    name = models.CharField(max_length=64, help_text="Prediction.model_name of its predictions")
    encoder = models.ForeignKey(EncoderVersion, on_delete=models.PROTECT, related_name="predictors")
    job = models.OneToOneField(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="predictor")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="the champion when it was trained")
    status = models.CharField(max_length=16, default="candidate",
                              choices=[("candidate", "candidate"), ("champion", "champion"),
                                       ("challenger", "challenger"), ("retired", "retired")])
    snapshot_hash = models.CharField(max_length=64)
    code_version = models.CharField(max_length=64)
    config = models.JSONField(default=dict)
    config_hash = models.CharField(max_length=64)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    cv_metrics = models.JSONField(default=dict, help_text="{head: {metric: {mean, sd}}, representation}")
    representation = models.JSONField(default=dict, help_text="{head: {chosen, outer_fold_wins, columns}}")
    eval_set_hash = models.CharField(max_length=64)
    eval_metrics = models.JSONField(default=dict, help_text="{target: metrics} on the evaluation set")
    comparisons = models.JSONField(default=dict, blank=True,
                                   help_text="{predictor version id: {target: metrics}} of other versions on this evaluation set")
    artifact_key = models.CharField(max_length=300)
    arrays_sha256 = models.CharField(max_length=64)
    n_training_subjects = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["organisation", "number"], name="predictor_number_per_org")]

    def __str__(self) -> str:
        return self.name


class AliasName(models.TextChoices):
    CHAMPION = "champion"
    CHALLENGER = "challenger"


class Alias(TenantModel):
    """``champion`` / ``challenger`` of an organisation. Move it only through ``registry.actions``."""

    name = models.CharField(max_length=16, choices=AliasName.choices)
    predictor = models.ForeignKey(PredictorVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="one_alias_per_name_and_org")]

    def __str__(self) -> str:
        return f"{self.name} -> {self.predictor}"


class AliasEvent(TenantModel):
    """Append-only log of alias moves (promotion, override, rollback)."""

    alias = models.CharField(max_length=16, choices=AliasName.choices)
    action = models.CharField(max_length=16, choices=[("promote", "promote"), ("override", "override"),
                                                      ("rollback", "rollback"), ("assign", "assign")])
    from_predictor = models.ForeignKey(PredictorVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_predictor = models.ForeignKey(PredictorVersion, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    gate = models.JSONField(default=dict, blank=True, help_text="the gate's comparison and verdict")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("alias events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("alias events are append-only")


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
        constraints = [models.UniqueConstraint(fields=["model_name", "model_version"], name="one_card_per_model_version")]

    def __str__(self) -> str:
        return f"{self.model_name} {self.model_version}"

    def save(self, *args, **kwargs):
        if self.cohort_kind == "synthetic":
            self.demonstration_only = True  # a synthetic-trained predictor is never clinical
        super().save(*args, **kwargs)


class RolloutState(models.TextChoices):
    QUEUED = "queued"
    PREPARING = "preparing", "making the encoder available to inference"
    BACKFILLING = "backfilling", "re-embedding sessions"
    REFITTING = "refitting", "re-fitting heads"
    PREDICTING = "predicting", "predicting with the new bundle"
    BLOCKED = "blocked", "waiting for staff: an organisation has no passing predictor"
    GOING_LIVE = "going-live"
    LIVE = "live"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"


ROLLOUT_ACTIVE = (RolloutState.QUEUED, RolloutState.PREPARING, RolloutState.BACKFILLING, RolloutState.REFITTING,
                  RolloutState.PREDICTING, RolloutState.GOING_LIVE)


class EncoderRollout(models.Model):
    """The promotion of an encoder (global, platform staff): available to inference -> backfill -> re-fit
    each organisation's heads through the gate -> predict -> live, or rolled back. Run by the worker task
    ``workers.rollout.tick`` (restartable; ``heartbeat_at`` shows it is alive, the jobs sweeper re-sends a
    silent one). ``results`` per organisation id: ``{name, champion, job, predictor, gate, verdict, ...}``."""

    from_encoder = models.ForeignKey(EncoderVersion, on_delete=models.PROTECT, related_name="+")
    to_encoder = models.ForeignKey(EncoderVersion, on_delete=models.PROTECT, related_name="rollouts")
    state = models.CharField(max_length=16, choices=RolloutState.choices, default=RolloutState.QUEUED)
    reason = models.TextField(blank=True, help_text="why it is in its state")
    progress = models.JSONField(default=dict, blank=True,
                                help_text="{stage, embedded, total, organisations_refitted, organisations, eta_s}")
    results = models.JSONField(default=dict, blank=True, help_text="per organisation: heads, gate, verdict")
    verdict = models.JSONField(default=dict, blank=True, help_text="the go-live rule's verdict")
    override_reason = models.TextField(blank=True, help_text="staff's written reason to go live despite the verdict")
    alias_events = models.JSONField(default=list, blank=True, help_text="ids of the AliasEvents of go-live")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    tick = models.CharField(max_length=40, blank=True, help_text="token of the live chain of worker ticks")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="times the sweeper re-sent a silent rollout")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    live_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"rollout {self.pk}: {self.from_encoder_id} -> {self.to_encoder_id} ({self.state})"
