"""The ``pretrain-encoder`` job kind: self-supervised GaitMAE pretraining on a global snapshot.

A global job (no organisation) started by platform staff (``registry.actions.start_pretrain_job``) holds a
frozen snapshot: ``[{session, organisation, subject, sha256}]`` of the organisations that opted in to
pooled pretraining and the subjects who consented to model training. Its runner (``RUNNERS`` in
``workers.training``), on a worker of the ``training`` queue:

* ``local`` launcher: copies the snapshot's session files from storage into the job folder
  (``$GAIT_VAR_DIR/jobs/<id>/data``; every file checked against its SHA-256, a session deleted or
  replaced since the job was created fails the job), then runs the loop of ``gaitcore.model.train``
  in this process with the checkpoint store ``<base>/jobs/<id>`` and ``resume`` always on: a job retried
  after its worker was killed continues from its last checkpoint ("resumed from step N" in its log).
  Progress ``{stage, step, steps, loss, eta_s, checkpoint_step}``; cancel stops it between two steps.
* ``kubernetes`` launcher: exports the snapshot's files (and a warm start's weights) to
  ``<base>/jobs/<id>/data`` (``gaitcore.model.snapshot``), creates the ``batch/v1`` Job whose pod
  fetches exactly those files (``gaitfm pretrain --data-store``), and follows it: progress from the
  store's ``latest`` pointer, the pod outcome as the reason, cancel deletes the Job. A follower killed
  with its worker is retried by the jobs sweeper and follows the same Job again (no second Job).

On success both read the final ``model.pt`` of the store (version tag, weights digest, file SHA-256)
and register it with ``registry.actions.register_encoder`` as a ``candidate`` of this job, whose parent
is the warm start's encoder. ``<base>`` is ``GAIT_CHECKPOINT_STORE``, else the platform storage's
``checkpoints/`` (``s3://<bucket>/checkpoints`` or ``<media root>/checkpoints``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from workers.job_errors import JobFailed, SnapshotChanged

log = logging.getLogger("workers")

REPO = Path(__file__).resolve().parents[1]
PROGRESS_EVERY_S = 0.5
API_RETRIES, API_RETRY_S = 30, 10  # following a Kubernetes Job survives 5 minutes of API errors




# --- where things go --------------------------------------------------------------------------------
def checkpoint_base() -> str:
    """``GAIT_CHECKPOINT_STORE``, else ``checkpoints/`` of the platform's storage."""
    base = os.environ.get("GAIT_CHECKPOINT_STORE", "").strip()
    if base:
        return base.rstrip("/")
    from django.conf import settings
    from recordings import storage

    st = storage.storage()
    if storage.is_s3(st):
        return f"s3://{st.bucket_name}/checkpoints"
    return str(Path(settings.MEDIA_ROOT) / "checkpoints")


def job_store_url(job) -> str:
    return f"{checkpoint_base()}/jobs/{job.pk}"


def job_dir(job) -> Path:
    from django.conf import settings

    d = Path(settings.VAR_DIR) / "jobs" / str(job.pk)
    d.mkdir(parents=True, exist_ok=True)
    return d


def artifact_uri(store_url: str, key: str) -> str:
    return f"{store_url}/{key}" if "://" in store_url else f"file://{Path(store_url).resolve()}/{key}"


# --- the snapshot's files --------------------------------------------------------------------------
def snapshot_files(job) -> list[dict]:
    """The snapshot's sessions with their storage keys, each checked (in its organisation's scope) to still
    exist with the same content hash; file names ``o<organisation>-s<session>.gait.npz``."""
    from recordings.models import GaitSession
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    rows = job.snapshot.get("sessions", [])
    by_org: dict[int, list[dict]] = {}
    for r in rows:
        by_org.setdefault(r["organisation"], []).append(r)
    out = []
    for org in Organisation.objects.filter(pk__in=list(by_org)).order_by("id"):
        with organisation_scope(org):
            keys = dict(GaitSession.objects.filter(pk__in=[r["session"] for r in by_org[org.pk]])
                        .values_list("id", "sha256").order_by())
            files = dict(GaitSession.objects.filter(pk__in=list(keys)).values_list("id", "file_key").order_by())
        for r in by_org.pop(org.pk):
            if keys.get(r["session"]) != r["sha256"]:
                raise SnapshotChanged(f"session {r['session']} of organisation {org.pk} in the snapshot was deleted "
                                      "or replaced since the job was created; start a new job")
            out.append({"name": f"o{org.pk}-s{r['session']}.gait.npz", "sha256": r["sha256"], "session": r["session"],
                        "organisation": org.pk, "subject": r["subject"], "file_key": files[r["session"]]})
    if by_org:
        raise SnapshotChanged(f"organisation(s) {sorted(by_org)} of the snapshot no longer exist; start a new job")
    return sorted(out, key=lambda f: f["session"])


def _read_checked(item: dict) -> bytes:
    from recordings import storage

    try:
        data = storage.read(item["file_key"])
    except (OSError, FileNotFoundError) as exc:
        raise SnapshotChanged(f"the file of session {item['session']} cannot be read ({exc}); start a new job") from exc
    if hashlib.sha256(data).hexdigest() != item["sha256"]:
        raise SnapshotChanged(f"the file of session {item['session']} does not match its SHA-256 in the snapshot")
    return data


def materialise(job, ctx, files: list[dict]) -> Path:
    """The snapshot's files in ``<job dir>/data/files`` (kept across attempts when their hash matches)."""
    from gaitcore.model.snapshot import sha256_hex, write_local_manifest

    dest = job_dir(job) / "data"
    out = dest / "files"
    out.mkdir(parents=True, exist_ok=True)
    wanted = {f["name"] for f in files}
    for stale in out.glob("*.gait.npz"):
        if stale.name not in wanted:
            stale.unlink()
    for i, f in enumerate(files):
        path = out / f["name"]
        if not (path.exists() and sha256_hex(path.read_bytes()) == f["sha256"]):
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(_read_checked(f))
            os.replace(tmp, path)
        ctx.progress({"stage": "materialising", "done": i + 1, "total": len(files)})
    write_local_manifest(dest, {"snapshot_hash": job.snapshot_hash, "job": job.pk, "files": files})
    return out


def encoder_checkpoint_bytes(enc) -> bytes:
    """The checkpoint file of an encoder version (``workers.encoders.checkpoint_file``: fetched from its
    ``artifact_uri``, SHA-256 and tag checked), its weights checked against the registered digest."""
    from gaitcore.model.checkpoint import load_checkpoint_bytes, weights_digest

    from .encoders import EncoderArtifactError, checkpoint_file

    try:
        path = checkpoint_file(enc)
    except EncoderArtifactError as exc:
        raise JobFailed(f"the warm start's checkpoint cannot be used: {exc}") from exc
    data = path.read_bytes()
    digest = weights_digest(load_checkpoint_bytes(data, str(path)).model())
    if digest != enc.weights_digest:
        raise JobFailed(f"the warm start's checkpoint {enc.artifact_uri} holds weights {digest}, not the registered "
                        f"{enc.weights_digest} of {enc.version_tag}")
    return data


# --- the runner ------------------------------------------------------------------------------------
def run_pretrain_encoder(job, ctx):
    if job.organisation_id is not None:
        raise JobFailed("a pretrain-encoder job is global (platform staff); this one has an organisation")
    if job.launcher == "kubernetes":
        return _follow_kubernetes(job, ctx)
    return _run_local(job, ctx)


class _Progress:
    """gaitcore's training events -> the job's progress (throttled) and log lines."""

    def __init__(self, ctx, steps: int):
        self.ctx, self.steps = ctx, steps
        self.start_step, self.t0, self.last = None, time.monotonic(), 0.0
        self.info = {"stage": "training", "step": 0, "steps": steps, "loss": None, "eta_s": None,
                     "checkpoint_step": None}

    def __call__(self, ev: dict) -> None:
        kind = ev["event"]
        if kind == "resumed":
            self.ctx.log(f"resumed from step {ev['step']} (checkpoint {ev['checkpoint']})")
            self.info.update(step=ev["step"], checkpoint_step=ev["step"], resumed_from=ev["step"])
            self.start_step, self.t0 = ev["step"], time.monotonic()
            return self.push(force=True)
        if kind == "checkpoint":
            self.info["checkpoint_step"] = ev["step"]
            self.ctx.log(f"checkpoint at step {ev['step']}{' (final)' if ev['final'] else ''}: {ev['key']}")
            return self.push(force=True)
        if self.start_step is None:
            self.start_step, self.t0 = ev["step"] - 1, time.monotonic()
        done = ev["step"] - self.start_step
        rate = done / max(time.monotonic() - self.t0, 1e-9)
        self.info.update(step=ev["step"], loss=round(float(ev["loss"]), 6),
                         eta_s=round((self.steps - ev["step"]) / rate, 1) if rate > 0 else None)
        self.push()

    def push(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= PROGRESS_EVERY_S or self.info["step"] == self.steps:
            self.last = now
            self.ctx.progress({**self.info, "done": self.info["step"], "total": self.steps})


def _train_config(job, out: Path, data: Path, store: str, init: str):
    from gaitcore.model.train import TrainConfig

    c = job.config
    return TrainConfig(config=c["config"], data=[str(data)], out=str(out), steps=int(c["steps"]),
                       batch_size=int(c["batch_size"]), micro_batch=int(c.get("micro_batch", 0)), lr=float(c["lr"]),
                       warmup_steps=int(c["warmup_steps"]), val_fraction=float(c["val_fraction"]), seed=int(c["seed"]),
                       ckpt_every=int(c["ckpt_every"]), log_every=int(c["log_every"]), progress=False, init=init,
                       checkpoint_store=store, resume=True)


def _run_local(job, ctx):
    """Train in this process; the copied session files leave the worker's disk when the job ends (a killed
    worker never gets here: its retry reuses them)."""
    import shutil

    try:
        return _train_local(job, ctx)
    finally:
        shutil.rmtree(job_dir(job), ignore_errors=True)


def _train_local(job, ctx):
    from gaitcore.model.train import pretrain

    store = job_store_url(job)
    ctx.progress({"stage": "materialising", "done": 0, "total": job.n_sessions})
    files = snapshot_files(job)
    data = materialise(job, ctx, files)
    ctx.log(f"snapshot {job.snapshot_hash[:12]}: {len(files)} session files in {data} (SHA-256 checked); "
            f"checkpoint store {store}")
    init = ""
    if job.encoder_id:
        p = job_dir(job) / "init.pt"
        p.write_bytes(encoder_checkpoint_bytes(job.encoder))
        init = str(p)
        ctx.log(f"warm start from encoder {job.encoder.version_tag}")
    tc = _train_config(job, job_dir(job) / "run", data, store, init)
    events = _Progress(ctx, tc.steps)
    try:
        summary = pretrain(tc, on_event=events)
    except ValueError as exc:  # gaitcore's refusals (bad data, a store holding another run, ...)
        raise JobFailed(f"pretraining refused to run: {exc}") from exc
    return register(job, ctx, store, summary, events.info.get("resumed_from"))


def register(job, ctx, store_url: str, summary: dict, resumed_from=None):
    """Register the store's final ``model.pt`` as a ``candidate`` encoder version of this job."""
    from registry.actions import register_encoder
    from tenancy.audit import Actor

    from gaitcore.model.checkpoint import load_checkpoint_bytes, weights_digest
    from gaitcore.model.store import open_store

    ctx.progress({"stage": "registering", "step": summary.get("step"), "steps": job.config.get("steps"),
                  "done": summary.get("step"), "total": job.config.get("steps")})
    data = open_store(store_url).get("model.pt")
    if data is None:
        raise JobFailed(f"the run finished but {store_url}/model.pt does not exist")
    ck = load_checkpoint_bytes(data, f"{store_url}/model.pt")
    digest = weights_digest(ck.model())
    metrics = {k: summary.get(k) for k in ("step", "steps_planned", "windows_seen", "last_train", "val",
                                           "wall_time_s", "world_size", "stopped_by_time_limit")}
    metrics.update(snapshot_hash=job.snapshot_hash, n_sessions=job.n_sessions, resumed_from=resumed_from,
                   included=job.snapshot.get("included"), config=job.config.get("config"))
    enc = register_encoder(Actor.system(), version_tag=ck.version_tag, config_name=ck.config.name,
                           weights_digest=digest, artifact_uri=artifact_uri(store_url, "model.pt"),
                           file_sha256=hashlib.sha256(data).hexdigest(), parent=job.encoder, job=job,
                           metrics=json.loads(json.dumps(metrics, default=str)), status="candidate")
    ctx.log(f"registered encoder {enc.version_tag} (id {enc.pk}, weights {digest}) as a candidate")
    return metrics, {"encoder_version": enc.pk, "model": artifact_uri(store_url, "model.pt")}, {
        "reason": f"encoder {enc.version_tag} registered as a candidate (step {summary.get('step')})"}


# --- kubernetes ------------------------------------------------------------------------------------
def export_job_data(job, ctx) -> str:
    """The snapshot's files (and a warm start's weights) under ``<job store>/data`` for the pod."""
    from gaitcore.model.snapshot import export_snapshot

    url = f"{job_store_url(job)}/data"
    files = snapshot_files(job)
    init = encoder_checkpoint_bytes(job.encoder) if job.encoder_id else None
    export_snapshot(url, [{k: v for k, v in f.items() if k != "file_key"} for f in files],
                    read=lambda item: _read_checked({**item, "file_key": _key_of(files, item)}),
                    snapshot_hash=job.snapshot_hash, job=job.pk, init=init,
                    progress=lambda d, t: ctx.progress({"stage": "exporting", "done": d, "total": t}))
    ctx.log(f"snapshot {job.snapshot_hash[:12]}: {len(files)} session files exported to {url}")
    return url


def _key_of(files: list[dict], item: dict) -> str:
    return next(f["file_key"] for f in files if f["name"] == item["name"])


def _follow_kubernetes(job, ctx):
    from registry.models import TrainingJob

    from workers.launchers import get_launcher
    from workers.launchers.kubernetes import FAILED, SUCCEEDED

    launcher = get_launcher("kubernetes")
    handle = (job.artifacts or {}).get("launch")
    if not handle or handle.get("backend") != "kubernetes":
        from workers.launchers.kubernetes import spec_for_job

        handle = launcher.find(spec_for_job(job, launcher.namespace), job.pk)  # created, but not recorded
        if handle is None:
            export_job_data(job, ctx)
            handle = launcher.launch(job)
            ctx.log(f"created the Kubernetes Job {handle['namespace']}/{handle['job']}")
        else:
            ctx.log(f"found the Kubernetes Job {handle['namespace']}/{handle['job']} created by an earlier attempt")
        job.artifacts = {**(job.artifacts or {}), "launch": handle}
        TrainingJob.unscoped.filter(pk=job.pk).update(artifacts=job.artifacts)
    else:
        ctx.log(f"following the Kubernetes Job {handle['namespace']}/{handle['job']} again")
    steps = int(job.config["steps"])

    def on_status(st):
        step = st.progress.get("step")
        ctx.progress({"stage": f"kubernetes: {st.state}", "step": step, "steps": steps, "checkpoint_step": step,
                      "pods": st.pods, "detail": st.reason, "done": step or 0, "total": steps})

    import urllib3

    from gaitcore.probe.finetune import Cancelled
    from workers.launchers import LaunchError

    errors = 0
    try:
        while True:
            try:
                st = launcher.watch(handle, timeout_s=30, on_status=on_status, recheck_s=10)
                errors = 0
            except (LaunchError, urllib3.exceptions.HTTPError) as exc:  # the API server unreachable for a while: keep following, then give up
                errors += 1
                ctx.log(f"cannot read the Kubernetes Job {handle['job']} ({exc}); retry {errors} of {API_RETRIES}")
                if errors >= API_RETRIES:
                    raise JobFailed(f"lost contact with the Kubernetes API while following the Job {handle['job']}: "
                                    f"{exc} (the Job may still run: its checkpoints are in {handle['checkpoint_store']})"
                                    ) from exc
                time.sleep(API_RETRY_S)
                ctx.progress({"stage": "kubernetes: unreachable", "done": 0, "total": None})
                continue
            on_status(st)  # also checks cancel between two watches
            if st.state in (SUCCEEDED, FAILED):
                break
    except Cancelled:
        launcher.stop(handle)
        ctx.log(f"deleted the Kubernetes Job {handle['job']} (cancel); its checkpoints stay in the store")
        raise
    if st.state == FAILED:
        launcher.cleanup(handle)
        raise JobFailed(f"the Kubernetes Job {handle['job']} failed: {st.reason}")
    from gaitcore.model.store import open_store

    raw = open_store(handle["checkpoint_store"]).get("summary.json")
    summary = json.loads(raw) if raw else {"step": st.progress.get("step")}
    out = register(job, ctx, handle["checkpoint_store"], summary)
    gone = launcher.cleanup(handle)
    ctx.log(f"cleaned up {', '.join(gone) or 'nothing'}")
    return out
