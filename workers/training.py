"""Running training jobs: the state machine, progress and heartbeat, and the ``finetune-heads`` kind.

States: ``queued -> running -> succeeded | failed | cancelled``; every final state has a reason. A job
runs in its organisation's scope (``job_scope``); its data come only from its frozen snapshot (session
ids + content hashes + the label values of the label table version, hashed when the job was created).

While it runs, a heartbeat thread stamps ``heartbeat_at`` every ``GAIT_JOB_HEARTBEAT_S`` seconds and
reads ``cancel_requested``; the fit's progress callback writes fold / target / ETA into ``progress`` and
stops the fit between two folds or targets once cancel is asked. A worker killed mid-job leaves a
stale heartbeat: ``workers.jobs_sweeper`` retries the job or fails it with the reason.

Kinds: ``RUNNERS`` maps a job kind to its function ``(job, ctx) -> (metrics, artifacts, extra)``:
``finetune-heads`` (here) and ``pretrain-encoder`` (``workers.pretrain``: a global job, no organisation).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from .config import injected_delay
from .job_errors import JobFailed, SnapshotChanged  # noqa: F401 - re-exported: runners raise them

log = logging.getLogger("workers")


DISPATCH_TASK_NAME = "workers.training.dispatch"


def _num(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def heartbeat_s() -> float:
    return _num("GAIT_JOB_HEARTBEAT_S", 5)


def stale_after_s() -> float:
    """``GAIT_JOB_STALE_AFTER_S``: a running job silent this long lost its worker (workers.jobs_sweeper)."""
    return _num("GAIT_JOB_STALE_AFTER_S", 120)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.contextmanager
def job_scope(job):
    """The organisation scope of a job (a platform-level job, with no organisation, has none)."""
    from tenancy.scope import organisation_scope

    if job.organisation_id is None:
        yield None
        return
    with organisation_scope(job.organisation) as org:
        yield org


def job_log(job_id: int, message: str, level: str = "info") -> None:
    from registry.models import JobLog, TrainingJob

    job = TrainingJob.unscoped.only("organisation_id").get(pk=job_id)
    if job.organisation_id is None:  # a global job's log is platform-level too
        JobLog.for_platform(job_id=job_id, message=message[:4000], level=level).save()
    else:
        JobLog.unscoped.create(job_id=job_id, organisation_id=job.organisation_id, message=message[:4000], level=level)
    (log.warning if level != "info" else log.info)("job %s: %s", job_id, message)


def finish(job_id: int, state: str, reason: str, **fields) -> bool:
    """Move a job to a final state (no-op if it already is in one). Audited."""
    from registry.models import FINAL_STATES, TrainingJob
    from tenancy.audit import Actor, record, record_platform

    with transaction.atomic():
        job = TrainingJob.unscoped.select_for_update(of=("self",)).select_related("organisation").get(pk=job_id)
        if job.state in FINAL_STATES:
            return False
        job.state, job.reason, job.finished_at = state, reason[:4000], timezone.now()
        for k, v in fields.items():
            setattr(job, k, v)
        job.save()
        if job.organisation_id is None:
            record_platform(Actor.system(), f"training_job.{state}", job, reason=reason[:500])
        else:
            with job_scope(job):
                record(Actor.system(), f"training_job.{state}", job, reason=reason[:500])
    job_log(job_id, f"{state}: {reason}", "info" if state == "succeeded" else "warning")
    return True


# --- dispatch ----------------------------------------------------------------------------------------
def dispatch_job(job_id: int) -> dict:
    """Hand a queued job to its launcher backend (``workers.launchers``)."""
    from registry.models import JobState, TrainingJob

    from .launchers import LaunchError, get_launcher

    job = TrainingJob.unscoped.filter(pk=job_id).first()
    if job is None or job.state != JobState.QUEUED:
        return {"job": job_id, "skipped": getattr(job, "state", "missing")}
    # a pretrain-encoder job's runner, on a training worker, uses the job's launcher itself (workers.pretrain:
    # in-process, or it exports the snapshot, creates the Kubernetes Job and follows it)
    backend = "local" if job.kind == "pretrain-encoder" else job.launcher
    try:
        handle = get_launcher(backend).launch(job)
    except LaunchError as exc:
        finish(job_id, JobState.FAILED, f"could not be launched: {exc}")
        return {"job": job_id, "failed": str(exc)}
    if backend == job.launcher:
        TrainingJob.unscoped.filter(pk=job_id).update(artifacts={**job.artifacts, "launch": handle})
        job_log(job_id, f"launched on {job.launcher}: {handle}")
    else:
        job_log(job_id, f"sent to a training worker ({handle['task_id']}); it runs on {job.launcher}")
    return {"job": job_id, "launched": handle}


# --- running -----------------------------------------------------------------------------------------
class Context:
    """What a runner gets: progress reporting (raises Cancelled when asked to stop) and the log."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.cancel = threading.Event()
        self.t0 = time.monotonic()
        self._last = 0.0

    def log(self, message: str) -> None:
        job_log(self.job_id, message)

    def progress(self, info: dict) -> None:
        from registry.models import TrainingJob

        from gaitcore.probe.finetune import Cancelled

        done, total = info.get("done") or 0, info.get("total") or 0
        elapsed = time.monotonic() - self.t0
        eta = elapsed / done * (total - done) if done and total else None
        if "eta_s" in info:  # the runner knows better (e.g. a resumed run: steps done before this attempt)
            eta = info["eta_s"]
        now = time.monotonic()
        if now - self._last > 0.5 or done == total:
            self._last = now
            TrainingJob.unscoped.filter(pk=self.job_id).update(
                progress={**info, "eta_s": None if eta is None else round(eta, 1), "elapsed_s": round(elapsed, 1)},
                heartbeat_at=timezone.now())
        if self.cancel.is_set() or TrainingJob.unscoped.filter(pk=self.job_id, cancel_requested=True).exists():
            raise Cancelled()
        delay = injected_delay("job-progress")  # tests only (GAIT_PIPELINE_DELAY=job-progress:S)
        if delay:
            time.sleep(delay)


def _heartbeat(job_id: int, stop: threading.Event, ctx: Context) -> None:
    from registry.models import TrainingJob

    try:
        while not stop.wait(heartbeat_s()):
            TrainingJob.unscoped.filter(pk=job_id, state="running").update(heartbeat_at=timezone.now())
            if TrainingJob.unscoped.filter(pk=job_id, cancel_requested=True).exists():
                ctx.cancel.set()
    finally:
        connection.close()


def claim(job_id: int) -> bool:
    """queued -> running for this worker (also a redelivered job whose heartbeat went stale)."""
    from registry.models import FINAL_STATES, JobState, TrainingJob

    with transaction.atomic():
        job = TrainingJob.unscoped.select_for_update().filter(pk=job_id).first()
        if job is None or job.state in FINAL_STATES:
            return False
        if job.state == JobState.RUNNING and job.heartbeat_at and \
                (timezone.now() - job.heartbeat_at).total_seconds() < stale_after_s():
            return False  # another worker has it (a duplicate delivery)
        job.state, job.reason, job.worker = JobState.RUNNING, "", worker_id()
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["state", "reason", "worker", "attempts", "started_at", "heartbeat_at"])
    return True


def run_job(job_id: int) -> dict:
    from registry.models import JobState, TrainingJob

    from gaitcore.probe.finetune import Cancelled

    close_old_connections()
    if not claim(job_id):
        return {"job": job_id, "skipped": True}
    job = TrainingJob.unscoped.select_related("organisation", "encoder", "label_table").get(pk=job_id)
    if job.cancel_requested:
        finish(job_id, JobState.CANCELLED, "cancelled before it started")
        return {"job": job_id, "state": "cancelled"}
    job_log(job_id, f"running on {worker_id()} (attempt {job.attempts})")
    ctx = Context(job_id)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(job_id, stop, ctx), daemon=True)
    beat.start()
    try:
        with job_scope(job):
            metrics, artifacts, extra = RUNNERS[job.kind](job, ctx)
        last = TrainingJob.unscoped.filter(pk=job_id).values_list("progress", flat=True).first() or {}
        finish(job_id, JobState.SUCCEEDED, extra.pop("reason", "finished"), metrics=metrics,
               artifacts={**job.artifacts, **artifacts}, progress={**last, "stage": "done", "eta_s": 0})
        return {"job": job_id, "state": "succeeded"}
    except Cancelled:
        between = "two training steps" if job.kind == "pretrain-encoder" else "two folds or targets"
        finish(job_id, JobState.CANCELLED, f"cancelled on request (stopped between {between})")
        return {"job": job_id, "state": "cancelled"}
    except JobFailed as exc:
        finish(job_id, JobState.FAILED, str(exc))
        return {"job": job_id, "state": "failed"}
    except Exception as exc:  # noqa: BLE001 - any failure ends the job with its reason
        log.exception("job %s failed", job_id)
        finish(job_id, JobState.FAILED, f"{type(exc).__name__}: {exc}"[:2000])
        return {"job": job_id, "state": "failed"}
    finally:
        stop.set()
        beat.join(timeout=10)





# --- finetune-heads ----------------------------------------------------------------------------------
def snapshot_matrix(job) -> dict:
    """The training and evaluation matrices of a job's snapshot (scoped queries; content hashes checked)."""
    from cohorts.models import Subject
    from recordings.models import GaitSession
    from results.models import Embedding, TaskFeatures

    from gaitcore.probe.finetune import session_row

    snap = job.snapshot
    rows = snap["sessions"]
    ids = [r["session"] for r in rows]
    sessions = {s.pk: s for s in GaitSession.objects.filter(pk__in=ids)}
    for r in rows:
        s = sessions.get(r["session"])
        if s is None or s.sha256 != r["sha256"]:
            raise SnapshotChanged(f"session {r['session']} of the snapshot was deleted or replaced since the job "
                                  "was created; start a new job")
    vectors: dict[int, dict] = {}
    for sid, task, vec in Embedding.objects.filter(session_id__in=ids, model_version=job.encoder.version_tag
                                                   ).values_list("session_id", "task", "vector"):
        vectors.setdefault(sid, {})[task] = vec
    feats: dict[int, dict] = {}
    for sid, task, values in TaskFeatures.objects.filter(session_id__in=ids).values_list("session_id", "task", "values"):
        feats.setdefault(sid, {})[task] = values
    sex_of = {pk: {"male": "M", "female": "F"}.get(sx, "") for pk, sx in
              Subject.objects.filter(pk__in={r["subject"] for r in rows}).values_list("id", "sex")}
    targets = list(snap["targets"])
    X, cols = [], None
    for r in rows:
        x, c = session_row(vectors.get(r["session"], {}), feats.get(r["session"], {}))
        if cols is None or len(c) > len(cols):
            cols = c
        X.append((x, c))
    Xm = np.full((len(rows), len(cols)), np.nan)
    pos = {c: i for i, c in enumerate(cols)}
    for i, (x, c) in enumerate(X):
        Xm[i, [pos[k] for k in c]] = x
    Y = np.array([[snap["labels"][str(r["subject"])].get(t, np.nan) for t in targets] for r in rows], float)
    groups = np.array([r["subject"] for r in rows])
    sex = np.array([sex_of.get(r["subject"], "") for r in rows], dtype=object)
    is_eval = np.array([bool(r["eval"]) for r in rows])
    return {"X": Xm, "columns": cols, "Y": Y, "targets": targets, "groups": groups, "sex": sex, "eval": is_eval,
            "synthetic": all(s.sensor == "synthetic" for s in sessions.values())}


def save_artifact(predictor, prefix: str) -> dict:
    from recordings import storage

    with tempfile.TemporaryDirectory() as tmp:
        predictor.save(tmp)
        out = {}
        for name in ("predictor.json", "predictor.npz"):
            key = f"{prefix}/{name}"
            storage.delete_quietly(key)
            storage.save_exact(key, (Path(tmp) / name).read_bytes())
            out[name] = key
    return out


def _cache_dir() -> Path:
    from django.conf import settings

    d = Path(settings.VAR_DIR) / "cache" / "predictors"
    d.mkdir(parents=True, exist_ok=True)
    return d


def load_artifact(artifact_key: str, arrays_sha256: str):
    """A registry predictor from storage (cached locally by its arrays hash; ``Predictor.load`` checks the
    hash and reads the NPZ with ``allow_pickle=False``: loading never executes code)."""
    from recordings import storage

    folder = _cache_dir() / arrays_sha256
    if not (folder / "predictor.json").exists():
        tmp = Path(tempfile.mkdtemp(dir=_cache_dir()))
        for name in ("predictor.json", "predictor.npz"):
            (tmp / name).write_bytes(storage.read(f"{artifact_key}/{name}"))
        try:
            tmp.rename(folder)
        except OSError:  # another process cached it first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return _load_cached(str(folder), arrays_sha256)


_loaded: dict = {}


def _load_cached(folder: str, sha: str):
    from gaitcore.probe.predictor import Predictor

    if sha not in _loaded:
        if len(_loaded) > 32:
            _loaded.clear()
        _loaded[sha] = Predictor.load(folder)
    return _loaded[sha]


def run_finetune_heads(job, ctx: Context):
    from registry.models import Alias, PredictorCard, PredictorVersion
    from tenancy.audit import Actor, record

    import gaitcore
    from gaitcore.probe import PROBE_VERSION
    from gaitcore.probe.finetune import METHOD, FitConfig, evaluate, fit_heads

    cfg = job.config
    ctx.progress({"stage": "loading", "done": 0, "total": None})
    data = snapshot_matrix(job)
    tr, ev = ~data["eval"], data["eval"]
    ctx.log(f"snapshot {job.snapshot_hash[:12]}: {int(tr.sum())} training sessions "
            f"({len(set(data['groups'][tr]))} subjects), {int(ev.sum())} evaluation sessions, "
            f"{len(data['targets'])} targets, {len(data['columns'])} input columns")
    fc = FitConfig(targets=data["targets"], representations=tuple(cfg["representations"]),
                   sex_specific=tuple(cfg.get("sex_specific") or ()), seeds=int(cfg["seeds"]), level=float(cfg["level"]))
    source = (f"label table {job.snapshot['label_table']['name']!r} (id {job.snapshot['label_table']['id']}), "
              f"snapshot {job.snapshot_hash[:12]}")
    pred = fit_heads(data["X"][tr], data["columns"], data["Y"][tr], data["groups"][tr], data["sex"][tr], fc,
                     embedding_model_version=job.encoder.version_tag, source=source,
                     cohort="synthetic" if data["synthetic"] else "real", progress=ctx.progress)
    ev_metrics = evaluate(pred, data["X"][ev], data["columns"], data["Y"][ev], data["targets"], data["sex"][ev])
    champion = Alias.objects.filter(name="champion").select_related("predictor__encoder").first()
    comparisons = {}
    if champion is not None and champion.predictor.encoder_id == job.encoder_id:
        old = load_artifact(champion.predictor.artifact_key, champion.predictor.arrays_sha256)
        comparisons[str(champion.predictor.pk)] = evaluate(old, data["X"][ev], data["columns"], data["Y"][ev],
                                                           data["targets"], data["sex"][ev])
        ctx.log(f"the champion {champion.predictor.name} re-scored on this evaluation set")
    with transaction.atomic():
        number = (PredictorVersion.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        name = f"{job.organisation.slug[:40]}/heads-v{number}"
        prefix = f"registry/{job.organisation_id}/predictors/{number}-{job.pk}"
        pred.meta["name"] = name
        keys = save_artifact(pred, prefix)
        sha = json.loads(_read(keys["predictor.json"]))["arrays_sha256"]
        pv = PredictorVersion.objects.create(
            number=number, name=name, encoder=job.encoder, job=job, parent=champion.predictor if champion else None,
            snapshot_hash=job.snapshot_hash, code_version=f"gaitcore {gaitcore.__version__}, {PROBE_VERSION}, {METHOD}",
            config=job.config, config_hash=job.config_hash, started_by=job.started_by,
            cv_metrics={k: h.cv for k, h in pred.heads.items()}, representation=pred.meta["representation"],
            eval_set_hash=job.snapshot["eval_set_hash"], eval_metrics=ev_metrics, comparisons=comparisons,
            artifact_key=prefix, arrays_sha256=sha, n_training_subjects=pred.meta["n_training_subjects"])
        PredictorCard.objects.update_or_create(model_name=name, model_version=job.encoder.version_tag, defaults={
            "trained_on": f"{pred.meta['n_training_subjects']} subjects of {job.organisation.name}, {source}"[:200],
            "cohort_kind": pred.meta["provenance"]["cohort"], "method": f"{METHOD}: linear heads, representation "
            "per target by inner CV, nested grouped CV metrics, split-conformal intervals"[:300],
            "n_training_subjects": pred.meta["n_training_subjects"]})
        record(Actor.system(), "predictor_version.create", pv, job=job.pk, snapshot_hash=job.snapshot_hash)
    won = {k: v["chosen"] for k, v in pred.meta["representation"].items()}
    ctx.log(f"predictor version {name} (id {pv.pk}): representations {won}; evaluation set {ev_metrics}")
    metrics = {"cv": pv.cv_metrics, "eval": ev_metrics, "representation": won, "fit_s": pred.meta["fit_s"]}
    return metrics, {"predictor": keys, "predictor_version": pv.pk}, {"reason": f"predictor version {name} created"}


def _read(key: str) -> bytes:
    from recordings import storage

    return storage.read(key)


def run_pretrain_encoder(job, ctx: Context):
    from .pretrain import run_pretrain_encoder as run

    return run(job, ctx)


RUNNERS = {"finetune-heads": run_finetune_heads, "pretrain-encoder": run_pretrain_encoder}
