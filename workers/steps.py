"""The work of each pipeline step, without Celery: validate -> preprocess -> features -> embed ->
predict -> aggregate. ``workers.tasks.pipeline`` wires them into tasks (queues, retries, limits).

Every function takes ids and the task's :class:`workers.leases.StepRun`, runs inside the organisation
scope the task entered, and writes its results in one transaction that first locks the session row and
checks the task still holds the step (``run.lock()``), then advances the session (``run.advance``): a
second run of a step that already finished writes nothing, and keys make every write an upsert, so
there are **never duplicate rows**:

| step | key of what it writes | write |
|---|---|---|
| validate | (session) | QC report upsert |
| preprocess | (session, preprocessing version) | windows file ``pipeline/<org>/<session>/windows.npz`` (replaced) |
| features | (session, task) | upsert per task |
| embed | (session, task, model name, model version) | skipped when every task already has one; upsert |
| predict | (session, predictor, model version) | delete + insert in one transaction |
| aggregate | (cohort, model version) | upsert of the cohort summary; the session becomes ``done`` |

Bad data raises :class:`BadSessionData` with a reason written for clinicians; the session fails
and is never retried. Faults of the infrastructure raise :class:`TransientFault` (or the inference
client's ``InferenceUnavailable``, storage or database errors) and are retried by the task.
"""

from __future__ import annotations

import io
import logging
import time

import numpy as np
from django.db import transaction
from django.utils import timezone

from . import config

log = logging.getLogger("workers")

NO_PREDICTOR = "no predictor artifact"  # start of a done session's reason when it got no predictions
STEPS = ("validate", "preprocess", "features", "embed", "predict", "aggregate")
MIN_FRAMES = 30  # a recording shorter than one second cannot be analysed


class BadSessionData(Exception):
    """The recording itself cannot be processed; the message is shown to clinicians."""


class TransientFault(Exception):
    """Something outside the recording failed (retry later)."""


# --- helpers --------------------------------------------------------------------------------------------
def lock_session(session_id: int):
    """The session row, locked until the end of the surrounding transaction (None if deleted)."""
    from recordings.models import GaitSession

    return GaitSession.unscoped.select_for_update().filter(pk=session_id).first()


def pause(step: str) -> None:
    """Fault injection for tests (``GAIT_PIPELINE_DELAY``)."""
    delay = config.injected_delay(step)
    if delay:
        log.warning("pipeline step %s: injected delay of %.1f s", step, delay)
        time.sleep(delay)


def windows_name(session) -> str:
    return f"pipeline/{session.organisation_id}/{session.pk}/windows.npz"


def read_session_file(session):
    """Parse the stored session file (storage faults are transient, a damaged file is bad data)."""
    from recordings import storage

    from gaitcore.errors import GaitCoreError
    from gaitcore.sessionfile import from_bytes

    try:
        data = storage.read(session.file_key)
    except FileNotFoundError:
        raise BadSessionData("the uploaded recording file is missing from storage; please upload the session again") from None
    try:
        return from_bytes(data, name=session.file_key)
    except (GaitCoreError, ValueError, KeyError, OSError, EOFError) as exc:
        raise BadSessionData(f"the recording file is damaged or not a session file ({exc}); "
                             "please export and upload it again") from None


# --- steps ----------------------------------------------------------------------------------------------
def validate(session_id: int, run) -> dict:
    from results.models import QCReport

    from gaitcore.qc import session_issues, session_qc

    session = _session(session_id)
    parsed = read_session_file(session)
    if parsed.n_frames < MIN_FRAMES:
        raise BadSessionData(f"the recording has only {parsed.n_frames} frames; at least {MIN_FRAMES} "
                             "(one second) are needed")
    if not parsed.tasks:
        raise BadSessionData("the recording has no protocol tasks marked; record it again with the protocol")
    qc = session_qc(parsed)
    metrics = {k: v for k, v in qc.__dict__.items() if k not in ("joints", "tasks")}
    issues = session_issues(qc)  # the session's verdict is the gate; each task's verdict explains it
    tasks = [t.__dict__ for t in qc.tasks]
    with transaction.atomic():
        s = run.lock()
        QCReport.objects.update_or_create(session_id=session_id, defaults={
            "passed": not issues, "metrics": _json_safe(metrics), "issues": issues, "tasks": _json_safe(tasks)})
        run.advance(s)
    return {"frames": parsed.n_frames, "tasks": [t.task for t in parsed.tasks]}


def preprocess(session_id: int, run) -> dict:
    from recordings import storage

    from gaitcore.errors import GaitCoreError
    from gaitcore.preprocess import PREPROCESSING_VERSION, model_windows
    from gaitcore.preprocess import preprocess as run_preprocess

    session = _session(session_id)
    parsed = read_session_file(session)
    try:
        pre = run_preprocess(parsed)
    except (GaitCoreError, ValueError) as exc:
        raise BadSessionData(f"the recording could not be cleaned: {exc}") from None
    x, mask, wins = model_windows(pre)
    if not wins:
        raise BadSessionData("no task of the recording is long enough to analyse (each needs at least 10 seconds)")
    buf = io.BytesIO()
    np.savez(buf, x=x, mask=mask, n_valid=np.array([w.n_valid for w in wins], np.int64),
             tasks=np.array([w.task for w in wins]), version=np.array(PREPROCESSING_VERSION))
    pause("preprocess")
    name = windows_name(session)
    with transaction.atomic():
        s = run.lock()
        storage.delete_quietly(name)
        storage.save_exact(name, buf.getvalue())
        run.advance(s)
    return {"windows": len(wins)}


def load_windows(session) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Windows trimmed to their valid frames, their observed masks and tasks (from the preprocess step)."""
    from recordings import storage

    try:
        data = storage.read(windows_name(session))
    except FileNotFoundError:
        raise TransientFault("the preprocessed windows are missing (the preprocess step will be rerun)") from None
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        x, mask, n_valid, tasks = z["x"], z["mask"], z["n_valid"], [str(t) for t in z["tasks"]]
    ws = [np.ascontiguousarray(x[i, :max(int(n), 1)]) for i, n in enumerate(n_valid)]
    ms = [np.ascontiguousarray(mask[i, :max(int(n), 1)]) for i, n in enumerate(n_valid)]
    return ws, ms, tasks


def features(session_id: int, run) -> dict:
    from results.models import TaskFeatures

    from gaitcore.features import compute_features
    from gaitcore.preprocess import preprocess as run_preprocess

    session = _session(session_id)
    parsed = read_session_file(session)
    pre = run_preprocess(parsed)
    rows = {}
    for seg in pre.tasks:
        fs = compute_features(pre, seg.task, seg.start, seg.end)
        rows[seg.task] = {k: (float(v) if v is not None and np.isfinite(v) else None) for k, v in fs.values.items()}
    pause("features")
    with transaction.atomic():
        s = run.lock()
        for task, values in rows.items():
            TaskFeatures.objects.update_or_create(session_id=session_id, task=task, defaults={"values": values})
        run.advance(s)
    return {"tasks": sorted(rows)}


def embed(session_id: int, client, run) -> dict:
    """Embeddings per task (median over its windows) and ``ensemble`` (median over tasks)."""
    from results.models import Embedding, QCReport

    session = _session(session_id)
    ws, ms, tasks = load_windows(session)
    version = client.model_version()
    have = set(Embedding.objects.filter(session_id=session_id, model_version=version).values_list("task", flat=True))
    if set(tasks) | {"ensemble"} <= have:
        with transaction.atomic():
            run.advance(run.lock(), model_version=version)
        return {"model_version": version, "skipped": True}
    res = client.embed(ws, ms)
    if res.model_version != version:
        raise TransientFault(f"the default model changed from {version} to {res.model_version} while embedding")
    task_arr = np.array(tasks)
    per_task = {t: np.median(res.embeddings[task_arr == t], axis=0) for t in dict.fromkeys(tasks)}
    per_task["ensemble"] = np.median(np.stack(list(per_task.values())), axis=0)
    recon = {t: float(np.mean(res.reconstruction_error[task_arr == t])) for t in dict.fromkeys(tasks)}
    pause("embed")
    with transaction.atomic():
        s = run.lock()
        for task, vec in per_task.items():
            Embedding.objects.update_or_create(
                session_id=session_id, task=task, model_name=res.model_name, model_version=version,
                defaults={"vector": [float(v) for v in vec]})
        qc = QCReport.objects.filter(session_id=session_id).first()
        if qc is not None:
            qc.metrics = {**qc.metrics, "reconstruction_error": {"model_version": version, "per_task": recon}}
            qc.save(update_fields=["metrics"])
        run.advance(s, model_version=version)
    return {"model_version": version, "windows": len(ws)}


def predict(session_id: int, model_version: str, run, predictor_version: int | None = None) -> dict:
    from results.models import Embedding, Prediction

    from .predictors import body_system, choose_predictor, chosen_inputs, subject_covariates

    session = _session(session_id)
    # the organisation's champion, else a configured artifact (or the version a rollout names)
    chosen = choose_predictor(model_version, predictor_version)
    if chosen is None:
        with transaction.atomic():
            run.advance(run.lock())
        return {"predictions": 0, "reason": "no predictor"}
    predictor, pred_name = chosen.predictor, chosen.name
    vectors = {e.task: e.vector for e in Embedding.objects.filter(session_id=session_id, model_version=model_version)}
    X, cols = chosen_inputs(chosen, session_id, vectors)
    sex, age = subject_covariates(session)
    out = predictor.predict(X, cols, sex=np.array([sex], dtype=object), age=np.array([age], float))[0]
    level = float(predictor.meta.get("interval_level", 0.9))
    units = predictor.meta.get("units") or {}  # {target: unit}, when the artifact records them
    rows = []
    for target, v in out.items():
        if isinstance(v, dict):
            if "probability" in v:
                rows.append(dict(phenotype=target, value=v["probability"], lower=None, upper=None, unit="probability"))
            else:
                ref = v.get("reference") or {}  # the training cohort's statistics of the subject's group
                rows.append(dict(phenotype=target, value=v["value"], lower=_finite(v.get("lower")),
                                 upper=_finite(v.get("upper")), unit=str(units.get(target, ""))[:32],
                                 reference_mean=ref.get("mean"), reference_sd=ref.get("sd"), reference_n=ref.get("n"),
                                 reference_group=str(ref.get("group", ""))[:16]))
        elif np.isfinite(v):
            # gait age is the age head's prediction and its gaps subtract a known age, so all three carry the
            # age head's conformal half-widths
            lo, hi = _age_halfwidths(out.get("age"))
            rows.append(dict(phenotype=target, value=float(v), lower=_finite(v - lo), upper=_finite(v + hi), unit="years"))
    pause("predict")
    with transaction.atomic():
        s = run.lock()
        Prediction.objects.filter(session_id=session_id, model_name=pred_name, model_version=model_version).delete()
        Prediction.objects.bulk_create([
            Prediction(session_id=session_id, organisation_id=session.organisation_id, body_system=body_system(r["phenotype"]),
                       interval_level=level, model_name=pred_name, model_version=model_version,
                       encoder_version_id=chosen.encoder_version_id, predictor_version_id=chosen.predictor_version_id,
                       **r) for r in rows])
        run.advance(s)
    return {"predictions": len(rows), "predictor": pred_name}


def aggregate(session_id: int, model_version: str, run) -> dict:
    """Refresh the session's cohort summary, then mark the session ``done`` (once: the lease check)."""
    from recordings.models import SessionStatus
    from results.models import Prediction
    from tenancy.audit import Actor, record

    from .summaries import refresh_cohort_summary

    session = _session(session_id)
    summary = refresh_cohort_summary(session.subject.cohort_id, model_version)
    with transaction.atomic():
        s = run.lock()
        if not run.backfill:
            reason = "" if Prediction.objects.filter(session_id=session_id, model_version=model_version).exists() else (
                f"{NO_PREDICTOR} for model {model_version}; features and embeddings are available, "
                "predictions are not")
            s.status, s.status_reason, s.processed_at = SessionStatus.DONE, reason, timezone.now()
            s.save(update_fields=["status", "status_reason", "processed_at"])
        elif s.status_reason.startswith(NO_PREDICTOR) and Prediction.objects.filter(
                session_id=session_id, model_version=model_version).exists():
            # a backfill (e.g. a rollout's catch-up) gave it predictions: the "no predictions" note is stale
            s.status_reason = ""
            s.save(update_fields=["status_reason"])
        run.advance(s)
        if not run.backfill:
            record(Actor.system(), "session.done", s, model_version=model_version)
    return {"cohort_sessions": summary.n_sessions}


def fail(session_id: int, reason: str, run=None) -> bool:
    """Mark the session ``failed`` with ``reason``; False (nothing written) when it is no longer active, or,
    from a task, when that task no longer holds the session: ``done`` and ``failed`` are never overwritten."""
    from recordings.dispatch import ACTIVE
    from recordings.models import SessionStatus
    from tenancy.audit import Actor, record

    from .leases import Superseded

    with transaction.atomic():
        if run is not None:
            if run.backfill:
                run.release()
                return False
            try:
                s = run.lock()
            except Superseded:
                return False
        else:
            s = lock_session(session_id)
            if s is None or s.status not in ACTIVE:
                return False
        s.status, s.status_reason, s.processed_at = SessionStatus.FAILED, reason[:2000], timezone.now()
        s.step, s.lease_owner, s.lease_until = "", "", None
        s.save(update_fields=["status", "status_reason", "processed_at", "step", "lease_owner", "lease_until", "updated_at"])
        record(Actor.system(), "session.failed", s, reason=reason[:500])
    return True


# --- small utilities ----------------------------------------------------------------------------------
def _session(session_id: int):
    from recordings.models import GaitSession

    s = GaitSession.objects.select_related("subject").filter(pk=session_id).first()
    if s is None:
        raise BadSessionData("the session was deleted")
    return s


def _age_halfwidths(age: dict | None) -> tuple[float, float]:
    """(value - lower, upper - value) of the age head's interval; NaN when there is none."""
    if not isinstance(age, dict) or age.get("lower") is None or age.get("upper") is None:
        return float("nan"), float("nan")
    return float(age["value"]) - float(age["lower"]), float(age["upper"]) - float(age["value"])


def _finite(v):
    return float(v) if v is not None and np.isfinite(v) else None


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
