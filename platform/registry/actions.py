"""Writes of the registry (Zulip style): each atomic and audited. Aliases move only here.

* :func:`start_job` -- freeze the data snapshot, create the job, hand it to the workers by task name;
* :func:`start_pretrain_job` -- platform staff: freeze the global snapshot (organisations that opted in to
  pooled pretraining, subjects with training consent), create the global ``pretrain-encoder`` job;
* :func:`cancel_job` -- ask a running job to stop (it checks between folds and targets) or cancel a
  queued one at once;
* :func:`promote` -- the promotion gate, with an admin override that needs a written reason;
* :func:`rollback` -- the alias goes back to its previous target (from the append-only alias events);
* :func:`repredict` -- queue the organisation's existing sessions for prediction with its champion.
"""

from __future__ import annotations

import hashlib
import json
import os

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from tenancy.audit import Actor, record
from tenancy.scope import current_organisation

from .models import (
    Alias,
    AliasEvent,
    AliasName,
    EncoderVersion,
    JobKind,
    JobLog,
    JobState,
    PredictorVersion,
    TrainingJob,
)

DISPATCH_TASK = "workers.training.dispatch"  # workers/tasks/training.py (sent by name: no import of workers)
PREDICT_TASK = "workers.pipeline.predict"
TRAINING_QUEUE = "training"
LAUNCHERS = ("local",)  # workers/launchers backends the API may name (organisation jobs)
PRETRAIN_LAUNCHERS = ("local", "kubernetes")  # where a pretrain-encoder job may run


def promotion_margin() -> float:
    """``GAIT_PROMOTION_MARGIN`` (default 0.02): how much R^2 / AUC per target a candidate may lose."""
    try:
        return float(os.environ.get("GAIT_PROMOTION_MARGIN", "") or 0.02)
    except ValueError:
        return 0.02


def canonical_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


# --- celery, by name -------------------------------------------------------------------------------------
_producer = None


def send_task(name: str, args: list, queue: str, kwargs: dict | None = None) -> None:
    """Send a Celery task by name from the API process (it never imports workers)."""
    global _producer
    if _producer is None:
        from celery import Celery

        app = Celery("gait-api")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        _producer = app
    _producer.send_task(name, args=args, kwargs=kwargs or {}, queue=queue)


def send_after_commit(name: str, args: list, queue: str, kwargs: dict | None = None) -> None:
    """Send once the transaction commits; a broker that is down does not fail the request (a queued job is
    dispatched again by the jobs sweeper, ``GAIT_JOB_QUEUED_TIMEOUT_S``)."""
    import logging

    def send():
        try:
            send_task(name, args, queue, kwargs) if kwargs else send_task(name, args, queue)
        except Exception:  # noqa: BLE001 - logged; the sweeper retries
            logging.getLogger("registry").exception("could not send %s%s", name, args)

    transaction.on_commit(send)


# --- jobs ------------------------------------------------------------------------------------------------
DEFAULT_FINETUNE = {"representations": ["embedding", "gait", "body", "concat"], "sex_specific": ["age", "bmi"],
                    "seeds": 1, "level": 0.9, "eval_fraction": 0.2}


def default_encoder() -> EncoderVersion:
    """The encoder a rollout made the default, else the newest active one."""
    enc = (EncoderVersion.objects.filter(is_default=True).first()
           or EncoderVersion.objects.filter(status="active").order_by("-id").first())
    if enc is None:
        raise ValidationError({"encoder": "no encoder version is registered"})
    return enc


def eval_bucket(organisation_id: int, subject_id: int, fraction: float) -> bool:
    """Whether a subject is in the organisation's fixed evaluation set: a hash of (organisation, subject)
    below ``fraction`` -- depends on nothing else, so a subject stays in (or out of) it forever."""
    h = int(hashlib.sha256(f"gait-eval:{organisation_id}:{subject_id}".encode()).hexdigest()[:8], 16)
    return h < fraction * 0x100000000


def freeze_snapshot(encoder: EncoderVersion, table, targets: list[str], eval_fraction: float) -> dict:
    """The frozen data snapshot of a job: the current organisation's subjects with
    ``consent_model_training`` that have labels in ``table``, their processed sessions with an embedding of
    ``encoder`` (id + content hash), and the label table version. Every query is scoped."""
    from cohorts.models import PhenotypeLabel, Subject
    from recordings.models import GaitSession
    from results.models import Embedding

    org = current_organisation()
    consenting = set(Subject.objects.filter(consent_model_training=True).values_list("id", flat=True))
    labels = PhenotypeLabel.objects.filter(table=table, subject_id__in=consenting)
    if targets:
        labels = labels.filter(phenotype__in=targets)
    by_subject: dict[int, dict[str, float]] = {}
    for sid, pheno, value in labels.values_list("subject_id", "phenotype", "value"):
        by_subject.setdefault(sid, {})[pheno] = value
    embedded = Embedding.objects.filter(model_version=encoder.version_tag, task="ensemble").values("session_id")
    sessions = (GaitSession.objects.filter(subject_id__in=list(by_subject), status="done", pk__in=embedded)
                .order_by("id").values_list("id", "subject_id", "sha256"))
    rows = [{"session": sid, "subject": subj, "sha256": sha, "eval": eval_bucket(org.pk, subj, eval_fraction)}
            for sid, subj, sha in sessions]
    subjects = sorted({r["subject"] for r in rows})
    found = sorted({p for s in subjects for p in by_subject[s]})
    manifest = {
        "organisation": org.pk, "encoder": encoder.version_tag,
        "label_table": {"id": table.pk, "name": table.name, "created_at": table.created_at.isoformat(),
                        "labels_sha256": canonical_hash({str(s): by_subject[s] for s in subjects})},
        "targets": targets or found, "sessions": rows, "labels": {str(s): by_subject[s] for s in subjects},
        "eval_fraction": eval_fraction,
    }
    ev = [r for r in rows if r["eval"]]
    manifest["eval_set_hash"] = canonical_hash({"sessions": ev, "labels": {str(r["subject"]): by_subject[r["subject"]] for r in ev}})
    return manifest


@transaction.atomic
def start_job(actor: Actor, *, kind: str, label_table, config: dict | None = None, launcher: str = "local",
              encoder: EncoderVersion | None = None) -> TrainingJob:
    if kind != JobKind.FINETUNE_HEADS:
        raise ValidationError({"kind": f"unknown job kind {kind!r}; known: {', '.join(JobKind.values)}"})
    if launcher not in LAUNCHERS:
        raise ValidationError({"launcher": f"unknown launcher {launcher!r}; known: {', '.join(LAUNCHERS)}"})
    cfg = {**DEFAULT_FINETUNE, **(config or {})}
    unknown = set(cfg) - set(DEFAULT_FINETUNE) - {"targets"}
    if unknown:
        raise ValidationError({"config": f"unknown keys: {', '.join(sorted(unknown))}"})
    if not set(cfg["representations"]) <= set(DEFAULT_FINETUNE["representations"]) or not cfg["representations"]:
        raise ValidationError({"config": "representations: a subset of embedding, gait, body, concat"})
    if not (isinstance(cfg["seeds"], int) and 1 <= cfg["seeds"] <= 15):
        raise ValidationError({"config": "seeds: an integer from 1 to 15"})
    if not (0.05 <= float(cfg["eval_fraction"]) <= 0.5):
        raise ValidationError({"config": "eval_fraction: between 0.05 and 0.5"})
    encoder = encoder or default_encoder()
    targets = [str(t) for t in cfg.get("targets") or []]
    snap = freeze_snapshot(encoder, label_table, targets, float(cfg["eval_fraction"]))
    cfg["targets"] = snap["targets"]
    n_train = len({r["subject"] for r in snap["sessions"] if not r["eval"]})
    if n_train < 20 or not snap["targets"]:
        raise ValidationError({"label_table": f"{n_train} consenting subjects with labels and processed sessions "
                               f"outside the evaluation set (at least 20 are needed), targets {snap['targets']}"})
    job = TrainingJob.objects.create(
        kind=kind, launcher=launcher, config=cfg, config_hash=canonical_hash(cfg), encoder=encoder,
        label_table=label_table, snapshot=snap, snapshot_hash=canonical_hash(snap), n_sessions=len(snap["sessions"]),
        started_by=actor.user,
        progress={"stage": "queued", "done": 0, "total": None})
    JobLog.objects.create(job=job, message=f"queued: {len(snap['sessions'])} sessions of "
                          f"{len({r['subject'] for r in snap['sessions']})} subjects, {len(snap['targets'])} targets, "
                          f"snapshot {job.snapshot_hash[:12]}")
    record(actor, "training_job.create", job, kind=kind, snapshot_hash=job.snapshot_hash, config_hash=job.config_hash)
    send_after_commit(DISPATCH_TASK, [job.pk], TRAINING_QUEUE)
    return job


@transaction.atomic
def cancel_job(actor: Actor, job: TrainingJob) -> TrainingJob:
    """Cancel a queued job at once, or ask a running one to stop. A platform-level job (no organisation:
    ``pretrain-encoder``) is reached only by platform staff (its viewset) and audited at platform level."""
    from tenancy.audit import record_platform

    glob = job.organisation_id is None
    rows = TrainingJob.unscoped.filter(organisation__isnull=True) if glob else TrainingJob.objects
    job = rows.select_for_update().get(pk=job.pk)
    if job.final:
        raise ValidationError({"state": f"the job is already {job.state}"})
    if job.state == JobState.QUEUED:
        job.state, job.reason, job.finished_at = JobState.CANCELLED, "cancelled before it started", timezone.now()
    job.cancel_requested = True
    job.save(update_fields=["state", "reason", "finished_at", "cancel_requested"])
    if glob:
        JobLog.for_platform(job=job, message="cancel requested").save()
        record_platform(actor, "training_job.cancel", job)
    else:
        JobLog.objects.create(job=job, message="cancel requested")
        record(actor, "training_job.cancel", job)
    return job


# --- pretrain-encoder: global jobs of platform staff ------------------------------------------------------
PRETRAIN_CONFIGS = ("tiny", "small", "paper")  # gaitcore.model.gaitmae.CONFIGS (the API never imports torch)
DEFAULT_PRETRAIN = {"config": "small", "steps": 1000, "batch_size": 8, "ckpt_every": 100, "seed": 0,
                    "lr": 8e-4, "warmup_steps": 100, "val_fraction": 0.1, "log_every": 10, "micro_batch": 0}
KUBERNETES_KEYS = ("nodes", "nproc_per_node", "gpus_per_node", "cpu", "memory", "deadline_s", "backoff_limit",
                   "image")  # workers/launchers/kubernetes.py spec_for_job


def _pretrain_config(config: dict | None, launcher: str) -> dict:
    cfg = {**DEFAULT_PRETRAIN, **(config or {})}
    allowed = set(DEFAULT_PRETRAIN) | (set(KUBERNETES_KEYS) if launcher == "kubernetes" else set())
    unknown = set(cfg) - allowed
    if unknown:
        raise ValidationError({"config": f"unknown keys: {', '.join(sorted(unknown))} (the data always come from "
                               "the job's snapshot)" if unknown & {"data", "data_claim"} else
                               f"unknown keys: {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}"})
    if cfg["config"] not in PRETRAIN_CONFIGS:
        raise ValidationError({"config": f"config: one of {', '.join(PRETRAIN_CONFIGS)}"})
    for key, lo, hi in (("steps", 1, 10_000_000), ("batch_size", 1, 4096), ("ckpt_every", 1, 10_000_000),
                        ("seed", 0, 2**31 - 1), ("warmup_steps", 0, 10_000_000), ("log_every", 1, 100_000),
                        ("micro_batch", 0, 4096)):
        v = cfg[key]
        if not (isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi):
            raise ValidationError({"config": f"{key}: an integer from {lo} to {hi}"})
    try:
        cfg["lr"], cfg["val_fraction"] = float(cfg["lr"]), float(cfg["val_fraction"])
    except (TypeError, ValueError):
        raise ValidationError({"config": "lr and val_fraction are numbers"}) from None
    if not (0 < cfg["lr"] < 1) or not (0 <= cfg["val_fraction"] <= 0.5):
        raise ValidationError({"config": "lr: between 0 and 1; val_fraction: between 0 and 0.5"})
    return cfg


def stored_keys(keys: list[str]) -> set[str]:
    """Which of these storage keys exist: one listing per folder (S3: a paged LIST per prefix, not a HEAD
    per file)."""
    import posixpath

    from recordings import storage

    st = storage.storage()
    by_dir: dict[str, set[str]] = {}
    for k in keys:
        by_dir.setdefault(posixpath.dirname(k), set()).add(posixpath.basename(k))
    present: set[str] = set()
    for folder, names in by_dir.items():
        try:
            _, files = st.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            files = []
        present |= {posixpath.join(folder, f) for f in set(files) & names}
    return present


def freeze_global_snapshot() -> dict:
    """The frozen data snapshot of a global ``pretrain-encoder`` job: of the organisations that opted in to
    pooled pretraining (``Organisation.pooled_pretraining``), the subjects with ``consent_model_training``,
    their ``done`` sessions whose session file exists in storage: ``sessions = [{session, organisation,
    subject, sha256}]`` (sha256 = the stored file's), plus how many organisations / subjects / sessions were
    included and excluded, and why. Each organisation is read inside its own scope."""
    from cohorts.models import Subject
    from recordings.models import GaitSession, SessionStatus
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    rows: list[dict] = []
    inc = {"organisations": 0, "subjects": 0, "sessions": 0}
    exc = {"organisation_not_opted_in": {"organisations": 0, "subjects": 0, "sessions": 0},
           "no_training_consent": {"subjects": 0, "sessions": 0},
           "session_not_done": {"sessions": 0}, "session_file_missing": {"sessions": 0}}
    for org in Organisation.objects.order_by("id"):
        with organisation_scope(org):
            if not org.pooled_pretraining:
                e = exc["organisation_not_opted_in"]
                e["organisations"] += 1
                e["subjects"] += Subject.objects.count()
                e["sessions"] += GaitSession.objects.count()
                continue
            consenting = Subject.objects.filter(consent_model_training=True)
            exc["no_training_consent"]["subjects"] += Subject.objects.filter(consent_model_training=False).count()
            exc["no_training_consent"]["sessions"] += GaitSession.objects.filter(
                subject__consent_model_training=False).count()
            exc["session_not_done"]["sessions"] += GaitSession.objects.filter(
                subject__in=consenting).exclude(status=SessionStatus.DONE).count()
            subjects = set()
            done = list(GaitSession.objects.filter(subject__in=consenting, status=SessionStatus.DONE)
                        .order_by("id").values_list("id", "subject_id", "sha256", "file_key"))
            present = stored_keys([key for *_, key in done if key])
            for sid, subj, sha, key in done:
                if key not in present:
                    exc["session_file_missing"]["sessions"] += 1
                    continue
                rows.append({"session": sid, "organisation": org.pk, "subject": subj, "sha256": sha})
                subjects.add(subj)
            if subjects:
                inc["organisations"] += 1
            inc["subjects"] += len(subjects)
    inc["sessions"] = len(rows)
    return {"scope": "global", "sessions": rows, "included": inc, "excluded": exc}


@transaction.atomic
def start_pretrain_job(actor: Actor, *, config: dict | None = None, launcher: str = "local",
                       encoder: EncoderVersion | None = None) -> TrainingJob:
    """Platform staff start a global ``pretrain-encoder`` job: the snapshot is frozen now (only what the
    organisations and subjects allowed at this moment), the job has no organisation, its events are
    platform-level audit events. ``encoder``: warm start from that version's weights (same config)."""
    from tenancy.audit import record_platform

    if not getattr(actor.user, "is_staff", False):
        from rest_framework.exceptions import PermissionDenied

        raise PermissionDenied("platform staff only")
    if launcher not in PRETRAIN_LAUNCHERS:
        raise ValidationError({"launcher": f"unknown launcher {launcher!r}; known: {', '.join(PRETRAIN_LAUNCHERS)}"})
    cfg = _pretrain_config(config, launcher)
    if encoder is not None and encoder.config_name != cfg["config"]:
        raise ValidationError({"encoder": f"{encoder.version_tag} is a {encoder.config_name!r} encoder; a warm start "
                               f"needs the same config (not {cfg['config']!r})"})
    snap = freeze_global_snapshot()
    inc = snap["included"]
    if not snap["sessions"]:
        raise ValidationError({"snapshot": "no session may enter pooled pretraining: no organisation opted in, or "
                               f"none of their subjects consented to model training (excluded: {snap['excluded']})"})
    job = TrainingJob.for_platform(
        kind=JobKind.PRETRAIN_ENCODER, scope="global", launcher=launcher, config=cfg, config_hash=canonical_hash(cfg),
        encoder=encoder, snapshot=snap, snapshot_hash=canonical_hash(snap), n_sessions=len(snap["sessions"]),
        started_by=actor.user, progress={"stage": "queued", "step": 0, "steps": cfg["steps"]})
    job.save()
    JobLog.for_platform(job=job, message=f"queued: {inc['sessions']} sessions of {inc['subjects']} subjects in "
                        f"{inc['organisations']} organisations, snapshot {job.snapshot_hash[:12]}; excluded: "
                        f"{json.dumps(snap['excluded'], sort_keys=True)}").save()
    record_platform(actor, "training_job.create", job, kind=job.kind, snapshot_hash=job.snapshot_hash,
                    config_hash=job.config_hash, included=inc, excluded=snap["excluded"])
    send_after_commit(DISPATCH_TASK, [job.pk], TRAINING_QUEUE)
    return job


# --- aliases ---------------------------------------------------------------------------------------------
def _move(actor: Actor, name: str, to: PredictorVersion, action: str, reason: str = "", gate: dict | None = None):
    current = Alias.objects.select_for_update().filter(name=name).first()
    before = current.predictor if current else None
    if current is None:
        Alias.objects.create(name=name, predictor=to)
    else:
        current.predictor = to
        current.save(update_fields=["predictor", "updated_at"])
    if before is not None and before.pk != to.pk and before.status == name:
        PredictorVersion.objects.filter(pk=before.pk).update(status="retired")
    PredictorVersion.objects.filter(pk=to.pk).update(status=name)
    AliasEvent.objects.create(alias=name, action=action, from_predictor=before, to_predictor=to, reason=reason,
                              gate=gate or {}, actor=actor.user)
    record(actor, f"alias.{action}", to, alias=name, from_predictor=getattr(before, "pk", None),
           to_predictor=to.pk, reason=reason, gate=gate or {})
    return before


def gate(candidate: PredictorVersion, champion: PredictorVersion | None, margin: float) -> dict:
    """The promotion gate's verdict: ``{"passed", "reasons", "margin", "champion", "evaluation_set", ...}``."""
    from gaitcore.probe.finetune import compare

    if champion is None:
        return {"passed": True, "reasons": [], "margin": margin, "champion": None, "note": "no champion yet"}
    if champion.pk == candidate.pk:
        return {"passed": False, "reasons": ["the candidate is already the champion"], "margin": margin,
                "champion": champion.pk}
    if candidate.eval_set_hash == champion.eval_set_hash:
        theirs, how = champion.eval_metrics, "both evaluated on the same evaluation set"
    elif str(champion.pk) in candidate.comparisons:
        theirs, how = candidate.comparisons[str(champion.pk)], "the champion re-scored on the candidate's evaluation set"
    else:
        return {"passed": False, "margin": margin, "champion": champion.pk,
                "reasons": ["no comparison with the current champion on the same evaluation set: train a new "
                            "candidate (its job scores the champion) or override with a reason"]}
    reasons = compare(candidate.eval_metrics, theirs, margin)
    return {"passed": not reasons, "reasons": reasons, "margin": margin, "champion": champion.pk,
            "evaluation_set": candidate.eval_set_hash, "how": how, "candidate_metrics": candidate.eval_metrics,
            "champion_metrics": theirs}


class GateRefused(ValidationError):
    pass


@transaction.atomic
def promote(actor: Actor, candidate: PredictorVersion, *, alias: str = AliasName.CHAMPION, override_reason: str = ""
            ) -> AliasEvent:
    """Move ``alias`` to ``candidate``. For ``champion`` the gate must pass, or an admin overrides it with a
    written reason (both audited). ``challenger`` is not gated (it serves nothing)."""
    if alias not in AliasName.values:
        raise ValidationError({"alias": f"unknown alias {alias!r}"})
    current = Alias.objects.select_for_update().filter(name=alias).select_related("predictor").first()
    verdict = {"passed": True, "reasons": [], "note": "challenger: not gated"}
    if alias == AliasName.CHAMPION:
        verdict = gate(candidate, current.predictor if current else None, promotion_margin())
    action = "promote"
    if not verdict["passed"]:
        if not override_reason.strip():
            raise GateRefused({"gate": verdict["reasons"], "detail": "the candidate is worse than the champion on the "
                               "same evaluation set beyond the margin; an admin may override with a written reason"})
        action = "override"
    _move(actor, alias, candidate, action, reason=override_reason.strip(), gate=verdict)
    return AliasEvent.objects.order_by("-id").first()


def alias_history(alias: str) -> list[int]:
    """The alias's targets as a stack (predictor version ids, current last): every promotion or override
    pushes its target, every rollback pops one."""
    stack: list[int] = []
    for action, to in AliasEvent.objects.filter(alias=alias).order_by("id").values_list("action", "to_predictor_id"):
        if action == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(to)
    return stack


@transaction.atomic
def rollback(actor: Actor, *, alias: str = AliasName.CHAMPION, reason: str = "") -> AliasEvent:
    """Point ``alias`` back at its previous target (the one before the promotion that set the current)."""
    current = Alias.objects.select_for_update().filter(name=alias).first()
    if current is None:
        raise ValidationError({"alias": f"there is no {alias} to roll back"})
    stack = alias_history(alias)
    if len(stack) < 2:
        raise ValidationError({"alias": f"the {alias} has no previous target to roll back to"})
    _move(actor, alias, PredictorVersion.objects.get(pk=stack[-2]), "rollback", reason=reason)
    return AliasEvent.objects.order_by("-id").first()


def repredict(actor: Actor, champion: Alias) -> int:
    """Queue the predict step of every processed session of the organisation (its champion predicts;
    earlier predictions stay, keyed by the versions that made them). Returns how many were queued."""
    from recordings.models import GaitSession
    from results.models import Embedding

    if champion.name != AliasName.CHAMPION:
        raise ValidationError({"alias": "only the champion predicts sessions; re-predict with the champion"})
    version = champion.predictor.encoder.version_tag
    with_emb = Embedding.objects.filter(model_version=version, task="ensemble").values("session_id")
    ids = list(GaitSession.objects.filter(status="done", pk__in=with_emb).values_list("id", flat=True))
    org = current_organisation()
    record(actor, "predictor.repredict", champion.predictor, sessions=len(ids))
    for sid in ids:
        # backfill=True: the sessions are done; the predict step takes their lease but keeps their status
        send_after_commit(PREDICT_TASK, [sid, org.pk, version], "preprocess", {"backfill": True})
    return len(ids)


# --- encoders (platform level) ---------------------------------------------------------------------------
@transaction.atomic
def register_encoder(actor: Actor, *, version_tag: str, config_name: str, weights_digest: str, artifact_uri: str,
                     file_sha256: str = "", source: str = "", parent: EncoderVersion | None = None,
                     job: TrainingJob | None = None, metrics: dict | None = None,
                     status: str = "candidate") -> EncoderVersion:
    """Register a GaitMAE checkpoint as an encoder version (a ``candidate`` until promoted). The facts
    (tag, digest, file hash) are read from the checkpoint by the caller (a worker: the API never loads
    torch). Registering the same tag twice with the same digest returns the existing row; a different
    digest under an existing tag is refused. Audited at platform level."""
    from tenancy.audit import record_platform

    existing = EncoderVersion.objects.filter(version_tag=version_tag).first()
    if existing is not None:
        if existing.weights_digest != weights_digest:
            raise ValidationError({"version_tag": f"{version_tag} is already registered with other weights "
                                                  f"({existing.weights_digest}, not {weights_digest})"})
        return existing
    enc = EncoderVersion.objects.create(version_tag=version_tag, config_name=config_name,
                                        weights_digest=weights_digest, file_sha256=file_sha256,
                                        artifact_uri=artifact_uri, source=source or artifact_uri, parent=parent,
                                        job=job, metrics=metrics or {}, status=status)
    record_platform(actor, "encoder.register", enc, version_tag=version_tag, weights_digest=weights_digest,
                    artifact_uri=artifact_uri, job=getattr(job, "pk", None))
    return enc
