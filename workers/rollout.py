"""An encoder rollout's steps, run by worker ticks (``workers.rollout.tick``, queue ``training``).

A tick does what can be done now for the rollout's state and queues the next tick
(``GAIT_ROLLOUT_TICK_S``); it never blocks a worker while sessions are re-embedded or heads re-fitted, so
one worker of all queues runs a whole rollout. Every step is restartable: its state is in the database
(``EncoderRollout.progress`` / ``results``) and each action is idempotent, so a killed worker leaves
nothing stuck -- the jobs sweeper (``sweep_rollouts``) starts a new chain of ticks for a rollout whose
``heartbeat_at`` went stale, and the old chain's ticks (another token) stop.

States: ``queued -> preparing -> backfilling -> refitting -> predicting -> going-live -> live`` (then a
final catch-up), ``blocked`` (the go-live rule refused: staff override or roll back), ``failed``,
``rolled-back``.

* preparing: the new encoder made available to inference as a non-default version (TorchServe: archive
  built from the checkpoint and registered, not default -- or, in a cluster (``GAIT_TORCHSERVE_SERVED_POINTER``),
  uploaded and listed in the served set, then waited for, tick by tick, until inference answers it; in
  process: the checkpoint fetched into the cache, its SHA-256 and tag checked, loaded once);
* backfilling: every ``done`` session of every organisation without an ``ensemble`` embedding of the new
  version gets the pipeline tail again with ``version=<new>`` and ``backfill=True`` (lease taken, status
  kept), in batches of ``GAIT_ROLLOUT_BATCH``; old embeddings and predictions stay, keyed by version;
* refitting: per organisation with its own champion, a ``finetune-heads`` job on the new encoder with the
  champion's label table and config, then the promotion gate against the current champion; an
  organisation without one is checked for a file-configured predictor of the new encoder;
* predicting: each passing organisation's sessions predicted by its new heads (kept under their name);
* going-live: catch-up (sessions finished meanwhile), then ``registry.rollouts.go_live`` with the
  inference switch inside its transaction; after it a last catch-up re-embeds what the old default
  embedded during the switch.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from celery import shared_task
from django.db import DatabaseError, InterfaceError, close_old_connections, transaction
from django.utils import timezone

from . import config

log = logging.getLogger("workers")

TICK_TASK = "workers.rollout.tick"
MAX_TRIES = 3  # sends of one session in one stage before it is skipped (and named)
MAX_CHAINS = 5  # new tick chains the sweeper may start before the rollout fails


# --- inference: make available, switch ------------------------------------------------------------------
def make_available(encoder) -> dict:
    """The new encoder servable as a non-default version; returns what was done. ``ready`` False (cluster
    mode only): inference does not answer the version yet; the tick tries again later."""
    from django.conf import settings

    from .encoders import checkpoint_file, torchserve_version

    path = checkpoint_file(encoder)  # fetched, SHA-256 and tag checked
    if getattr(settings, "INFERENCE_BACKEND", "inprocess") != "torchserve":
        from .inference import get_client

        d = get_client(encoder.version_tag).describe()  # loads it once in this worker
        return {"backend": "inprocess", "checkpoint": str(path), "embedding_dim": d["embedding_dim"]}
    if config.torchserve_served_pointer():
        return _make_available_pointer(encoder, path)
    from serving.archive import build_archive
    from serving.management import ManagementClient

    url, store = config.torchserve_management()
    if not url or not store:
        raise RuntimeError("the TorchServe backend needs GAIT_TORCHSERVE_MANAGEMENT_URL and "
                           "GAIT_TORCHSERVE_MODEL_STORE (one TorchServe) or GAIT_TORCHSERVE_SERVED_POINTER "
                           "(a cluster's pods) to register a new encoder version")
    m = ManagementClient(url, token_file=getattr(settings, "TORCHSERVE_TOKEN_FILE", "") or None)
    version = torchserve_version(encoder.version_tag)
    if version not in {v.get("modelVersion") for v in m.versions("gaitmae")}:
        archive, version = build_archive(path, store)
        m.register(archive.name, model_name="gaitmae", version=version)
    return {"backend": "torchserve", "version": version, "default": m.default_version("gaitmae")}


def switch_to(encoder) -> None:
    """Make ``encoder`` the default of the inference backend. In process the registry's default encoder is
    what workers load (``workers.inference.get_client``), so there is nothing more to do."""
    from django.conf import settings

    if getattr(settings, "INFERENCE_BACKEND", "inprocess") != "torchserve":
        return
    if config.torchserve_served_pointer():
        _switch_pointer(encoder)
        return
    from serving.management import ManagementClient

    from .encoders import torchserve_version

    url, _ = config.torchserve_management()
    if not url:
        raise RuntimeError("GAIT_TORCHSERVE_MANAGEMENT_URL is not set: cannot switch TorchServe's default")
    m = ManagementClient(url, token_file=getattr(settings, "TORCHSERVE_TOKEN_FILE", "") or None)
    version = torchserve_version(encoder.version_tag)
    if m.default_version("gaitmae") != version:
        m.set_default("gaitmae", version)


def sync_serving() -> str | None:
    """TorchServe's default follows the registry's default encoder (after a rollback)."""
    from .encoders import live_encoder

    enc = live_encoder()
    if enc is not None:
        switch_to(enc)
    return getattr(enc, "version_tag", None)


# --- cluster mode: the served set (serving.served) every TorchServe pod's sync sidecar follows ----------
def _pointer():
    from django.conf import settings

    from serving.served import pointer_store

    return pointer_store(config.torchserve_served_pointer(), media_root=getattr(settings, "MEDIA_ROOT", None))


def _add_version(store, served: dict, encoder, path: Path | None = None) -> str:
    """Build the encoder's archive, upload it beside the pointer, list it in ``served`` (not written)."""
    import tempfile

    from serving.archive import build_archive
    from serving.served import archive_entry

    from .encoders import checkpoint_file

    with tempfile.TemporaryDirectory(prefix="gait-mar-") as tmp:
        archive, version = build_archive(path or checkpoint_file(encoder), tmp)
        served["versions"][version] = archive_entry(store, archive)
    return version


def _bootstrap_default(store, served: dict) -> None:
    """A first served set names the version inference serves now (the pods' champion) as its default
    when the registry has that encoder's checkpoint, so the pods keep it (and a rollback is instant)."""
    from registry.models import EncoderVersion

    from .encoders import torchserve_version
    from .inference import get_client

    try:
        client = get_client()
        try:
            tag = client.model_version()
        finally:
            client.close()
        enc = EncoderVersion.objects.filter(version_tag=tag).exclude(artifact_uri="").first()
        if enc is None:
            log.info("served set: the served encoder %s has no registered checkpoint; no default recorded", tag)
            return
        if torchserve_version(tag) not in served["versions"]:
            _add_version(store, served, enc)
        served["default"] = torchserve_version(tag)
    except Exception as exc:  # noqa: BLE001 - the set then claims no default: every pod keeps its own
        log.warning("served set: could not record the served encoder as its default: %s", exc)


def _answers(version: str, tag: str) -> tuple[bool, str]:
    """Whether inference answers ``/predictions/gaitmae/<version>`` with the encoder ``tag``."""
    from django.conf import settings

    from serving.client import InferenceUnavailable, TorchServeClient

    client = TorchServeClient(settings.TORCHSERVE_URL, version=version, read_timeout=30.0,
                              token_file=getattr(settings, "TORCHSERVE_TOKEN_FILE", "") or None)
    try:
        got = client.describe().get("model_version")
    except InferenceUnavailable as exc:
        return False, str(exc)
    finally:
        client.close()
    return got == tag, f"answers {got}"


def _make_available_pointer(encoder, path: Path) -> dict:
    from serving import served as served_set

    from .encoders import torchserve_version

    store, key = _pointer()
    served = served_set.read(store, key) or served_set.empty()
    version = torchserve_version(encoder.version_tag)
    if version not in served["versions"]:
        if served.get("default") is None:
            _bootstrap_default(store, served)
        _add_version(store, served, encoder, path)
        served = served_set.write(store, key, served)
        log.info("served set %s/%s: added %s (default %s)", store.url, key, version, served.get("default"))
    ready, why = _answers(version, encoder.version_tag)
    return {"backend": "torchserve", "mode": "served-set", "pointer": f"{store.url}/{key}", "version": version,
            "default": served.get("default"), "ready": ready, "inference": why}


def _switch_pointer(encoder) -> None:
    """The served set's default := ``encoder`` (listed first if it is not); versions of retired encoders
    other than the new default leave the set. The pods follow within their sync interval."""
    from registry.models import ROLLOUT_ACTIVE, EncoderRollout, EncoderVersion

    from serving import served as served_set

    from .encoders import torchserve_version

    store, key = _pointer()
    served = served_set.read(store, key) or served_set.empty()
    version = torchserve_version(encoder.version_tag)
    if version not in served["versions"]:
        _add_version(store, served, encoder)
    previous = served.get("default")
    running = {torchserve_version(t) for t in EncoderRollout.objects.filter(state__in=ROLLOUT_ACTIVE)
               .values_list("to_encoder__version_tag", flat=True)}  # a rollout in progress keeps its version
    retired = {torchserve_version(t) for t in
               EncoderVersion.objects.filter(status="retired").values_list("version_tag", flat=True)} - running
    known = {torchserve_version(t) for t in EncoderVersion.objects.values_list("version_tag", flat=True)}
    keep = {v: e for v, e in served["versions"].items()
            if v == version or v in running or (v not in retired and (v in known or v == previous))}
    if previous == version and keep == served["versions"]:
        return
    served["default"], served["versions"] = version, keep
    served_set.write(store, key, served)
    log.info("served set %s/%s: default %s -> %s, versions %s", store.url, key, previous, version, sorted(keep))


# --- what is left to do ---------------------------------------------------------------------------------
def embed_pending(tag: str) -> list[list]:
    from .backfill import pending_sessions

    return [[sid, org] for sid, org in pending_sessions(tag)]


def predict_pending(tag: str, results: dict) -> list[list]:
    """[session, organisation, predictor version] of sessions with an embedding of ``tag`` but no
    prediction of the organisation's new heads."""
    from recordings.models import GaitSession
    from registry.rollouts import organisation_ok
    from results.models import Embedding, Prediction
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    out = []
    for org_id, res in sorted(results.items()):
        if res.get("kind") != "heads" or not res.get("predictor") or not organisation_ok(res)[0]:
            continue
        org = Organisation.objects.filter(pk=int(org_id)).first()
        if org is None:
            continue
        with organisation_scope(org):
            emb = Embedding.objects.filter(model_version=tag, task="ensemble").values("session_id")
            have = Prediction.objects.filter(predictor_version_id=res["predictor"]).values("session_id")
            ids = (GaitSession.objects.filter(status="done", pk__in=emb).exclude(pk__in=have)
                   .order_by("id").values_list("id", flat=True))
            out += [[sid, org.pk, res["predictor"]] for sid in ids]
    return out


def _send(kind: str, item: list, tag: str) -> None:
    from .celery_app import app

    if kind == "predict":
        sid, org, pv = item
        app.send_task("workers.pipeline.predict", args=[sid, org, tag],
                      kwargs={"backfill": True, "predictor_version": pv})
    else:
        sid, org = item[:2]
        app.send_task("workers.pipeline.embed", args=[sid, org], kwargs={"backfill": True, "version": tag})


def run_batches(r, kind: str, pending: list[list]) -> bool:
    """One step of a batched stage: wait for the batch in flight, else send the next. True when nothing
    is left (sessions that failed ``MAX_TRIES`` times are skipped and named in ``progress.skipped``)."""
    p = r.progress
    skipped = p.setdefault("skipped", {})
    tries = p.setdefault("tries", {}).setdefault(kind, {})
    todo = [it for it in pending if str(it[0]) not in skipped]
    left = {it[0] for it in todo}
    batch = p.get("batch") or {}
    if batch.get("kind") == kind and any(i[0] in left for i in batch["items"]):
        if time.time() - batch["sent_at"] < config.rollout_batch_timeout_s():
            return False
    p["batch"] = None
    if not todo:
        return True
    items = []
    for it in todo[: config.rollout_batch()]:
        n = tries.get(str(it[0]), 0) + 1
        if n > MAX_TRIES:
            skipped[str(it[0])] = f"{kind}: not finished after {MAX_TRIES} tries"
            continue
        tries[str(it[0])] = n
        _send(kind, it, r.to_encoder.version_tag)
        items.append(it)
    p["batch"] = {"kind": kind, "items": items, "sent_at": time.time()}
    return False


def _eta(p: dict, done: int, total: int) -> float | None:
    started, first = p.get("stage_started"), p.get("stage_done0", 0)
    if not started or done <= first or total <= done:
        return None if total > done else 0.0
    rate = (done - first) / max(time.time() - started, 1e-6)
    return round((total - done) / rate, 1)


def _enter(r, state: str, reason: str, **extra) -> None:
    r.state, r.reason = state, reason
    r.progress.update({"stage": state, "stage_started": time.time(), "batch": None, **extra})


# --- refit ----------------------------------------------------------------------------------------------
def _refit_start(r, org) -> dict:
    """The organisation's entry in ``results``: its heads job started, or its file-configured predictors."""
    from registry import actions
    from registry.models import Alias
    from rest_framework.exceptions import ValidationError
    from tenancy.audit import Actor

    from .predictors import find_predictor

    champ = Alias.objects.filter(name="champion").select_related("predictor__job").first()
    if champ is None:
        old = find_predictor(r.from_encoder.version_tag)
        new = find_predictor(r.to_encoder.version_tag)
        return {"slug": org.slug, "kind": "file", "file_old": old[1] if old else None,
                "file_new": new[1] if new else None}
    res = {"slug": org.slug, "kind": "heads", "champion": champ.predictor_id, "champion_name": champ.predictor.name}
    job = champ.predictor.job
    if job is None or job.label_table_id is None:
        return res | {"error": f"its champion {champ.predictor.name} records no label table to re-fit on"}
    cfg = {k: v for k, v in champ.predictor.config.items() if k in (*actions.DEFAULT_FINETUNE, "targets")}
    try:
        new_job = actions.start_job(Actor.system(), kind="finetune-heads", label_table=job.label_table,
                                    config=cfg, encoder=r.to_encoder)
    except ValidationError as exc:
        return res | {"error": f"its heads could not be re-fitted: {exc.detail}"}
    return res | {"job": new_job.pk, "job_state": new_job.state, "label_table": job.label_table_id}


def _refit_check(r, res: dict) -> dict:
    from registry import actions
    from registry.models import Alias, PredictorVersion, TrainingJob

    job = TrainingJob.objects.filter(pk=res["job"]).first()
    if job is None:
        return res | {"job_state": "deleted", "error": f"its heads job {res['job']} was deleted"}
    res = res | {"job_state": job.state}
    if not job.final:
        return res
    if job.state != "succeeded":
        return res | {"error": f"its heads job {job.pk} {job.state}: {job.reason}"}
    pv = PredictorVersion.objects.get(job=job)
    champ = Alias.objects.filter(name="champion").select_related("predictor").first()
    verdict = actions.gate(pv, champ.predictor if champ else None, actions.promotion_margin())
    return res | {"predictor": pv.pk, "predictor_name": pv.name, "gate": verdict}


def refit(r) -> bool:
    """Start / follow each organisation's re-fit; True when every organisation has its result."""
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    done = 0
    orgs = list(Organisation.objects.order_by("id"))
    for org in orgs:
        key = str(org.pk)
        with organisation_scope(org), transaction.atomic():
            res = r.results.get(key)
            if res is None:
                res = _refit_start(r, org)
            elif res.get("kind") == "heads" and res.get("job") and "gate" not in res and not res.get("error"):
                res = _refit_check(r, res)
            r.results[key] = res
            r.save(update_fields=["results"])  # with the job's creation: a restart never starts a second
        if res.get("kind") == "file" or res.get("error") or "gate" in res:
            done += 1
    r.progress.update({"organisations_refitted": done, "organisations": len(orgs)})
    return done == len(orgs)


def _record_served_encoder(r) -> None:
    """Name the encoder inference really served when the rollout started, for its rollback. With no
    default in the registry the configured checkpoint serves (not necessarily the newest registered
    encoder): the worker asks inference for its version and points ``from_encoder`` at that version,
    registering the configured in-process checkpoint first if the registry does not know it yet.
    ``progress["from_default"]`` says whether a registry default existed (else a rollback clears it)."""
    from registry.models import EncoderVersion

    from .encoders import live_encoder
    from .inference import get_client, inference_config

    if "from_served" in r.progress:
        return
    r.progress["from_default"] = live_encoder() is not None
    if r.progress["from_default"]:
        r.progress["from_served"] = r.from_encoder.version_tag
        return
    client = get_client()
    try:
        served = client.model_version()
    finally:
        client.close()
    r.progress["from_served"] = served
    enc = EncoderVersion.objects.filter(version_tag=served).first()
    cfg = inference_config()
    if enc is None and cfg.backend == "inprocess":
        enc = _register_configured(cfg.checkpoint)
    if enc is not None and enc.pk != r.from_encoder_id:
        r.from_encoder = enc
        r.save(update_fields=["from_encoder"])


def _register_configured(checkpoint: str):
    """Register the configured in-process checkpoint (an encoder the registry did not know) as active."""
    import hashlib

    from registry.actions import register_encoder
    from tenancy.audit import Actor

    from gaitcore.model.checkpoint import SHIPPED_CHECKPOINT, load_checkpoint, weights_digest

    path = Path(checkpoint or SHIPPED_CHECKPOINT)
    ck = load_checkpoint(path)
    return register_encoder(Actor.system(), version_tag=ck.version_tag, config_name=ck.config.name,
                            weights_digest=weights_digest(ck.model()), artifact_uri=str(path.resolve()),
                            file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                            source="the configured checkpoint, registered by an encoder rollout", status="active")


# --- the tick -------------------------------------------------------------------------------------------
def advance(r) -> float | None:
    """Advance the rollout as far as possible now; the seconds until the next tick, or None to stop."""
    from registry import rollouts
    from registry.models import RolloutState as S

    tag = r.to_encoder.version_tag
    if r.state == S.QUEUED:
        _enter(r, S.PREPARING, "making the encoder available to inference")
    if r.state == S.PREPARING:
        r.progress["inference"] = available = make_available(r.to_encoder)
        if not available.get("ready", True):  # cluster mode: the pods' sidecars have not registered it yet
            since = r.progress.setdefault("inference_wait_since", time.time())
            waited, limit = time.time() - since, config.torchserve_sync_timeout_s()
            if waited > limit:
                raise RuntimeError(f"inference did not answer /predictions/gaitmae/{available['version']} "
                                   f"within {limit:.0f} s of the served set listing it ({available['inference']}); "
                                   "see the TorchServe pods' serve-sync logs")
            r.reason = f"waiting for TorchServe to serve {available['version']} ({waited:.0f} s)"
            return config.rollout_tick_s()
        _record_served_encoder(r)
        from recordings.models import GaitSession

        total = GaitSession.unscoped.filter(status="done").count()
        pending = len(embed_pending(tag))
        _enter(r, S.BACKFILLING, "re-embedding sessions", total=total, embedded=total - pending,
               stage_done0=total - pending)
    if r.state == S.BACKFILLING:
        pending = embed_pending(tag)
        from recordings.models import GaitSession

        total = GaitSession.unscoped.filter(status="done").count()
        r.progress.update({"total": total, "embedded": total - len(pending),
                           "eta_s": _eta(r.progress, total - len(pending), total)})
        if not run_batches(r, "embed", pending):
            return config.rollout_tick_s()
        _enter(r, S.REFITTING, "re-fitting heads")
    if r.state == S.REFITTING:
        if not refit(r):
            return config.rollout_tick_s()
        pending = predict_pending(tag, r.results)
        _enter(r, S.PREDICTING, "predicting with the new heads", predict_total=len(pending), predicted=0)
    if r.state == S.PREDICTING:
        pending = predict_pending(tag, r.results)
        r.progress["predicted"] = r.progress.get("predict_total", 0) - len(pending)
        if not run_batches(r, "predict", pending):
            return config.rollout_tick_s()
        r.verdict = rollouts.go_live_verdict(r.results, r.override_reason)
        if not r.verdict["ready"]:
            names = ", ".join(f"{b['slug'] or b['organisation']} ({b['why']})" for b in r.verdict["blocking"])
            _enter(r, S.BLOCKED, f"not every organisation has a predictor for the new encoder that passed the "
                   f"gate: {names}; staff may override with a written reason or roll back")
            return None
        _enter(r, S.GOING_LIVE, "catching up, then going live")
    if r.state == S.GOING_LIVE:
        if not run_batches(r, "embed", embed_pending(tag)):
            return config.rollout_tick_s()
        if not run_batches(r, "predict", predict_pending(tag, r.results)):
            return config.rollout_tick_s()
        if not _save(r, with_state=True):  # a staff rollback meanwhile wins
            return None
        rollouts.go_live(r, switch=lambda: switch_to(r.to_encoder))
        r.refresh_from_db()
        _enter(r, S.LIVE, "live; final catch-up of sessions embedded during the switch")
    if r.state == S.LIVE and r.finished_at is None:
        if not run_batches(r, "catchup", embed_pending(tag)):
            return config.rollout_tick_s()
        r.finished_at, r.reason = timezone.now(), "live"
        r.progress["stage"] = "live"
    return None


def tick(rollout_id: int, token: str) -> dict:
    from registry.models import ROLLOUT_ACTIVE, EncoderRollout, RolloutState

    r = EncoderRollout.objects.select_related("from_encoder", "to_encoder").filter(pk=rollout_id).first()
    if r is None or r.tick != token:
        return {"rollout": rollout_id, "status": "superseded"}
    if r.state not in ROLLOUT_ACTIVE and not (r.state == RolloutState.LIVE and r.finished_at is None):
        return {"rollout": rollout_id, "status": r.state}
    r.heartbeat_at = timezone.now()
    EncoderRollout.objects.filter(pk=r.pk).update(heartbeat_at=r.heartbeat_at)
    try:
        again = advance(r)
    except (DatabaseError, InterfaceError, OSError, ConnectionError) as exc:
        close_old_connections()
        log.warning("rollout %s: transient fault, next tick in 10 s: %s", rollout_id, exc)
        again = 10.0
    except Exception as exc:  # noqa: BLE001 - the rollout fails visibly, with the reason
        log.exception("rollout %s failed", rollout_id)
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        EncoderRollout.objects.filter(pk=r.pk, tick=token, state__in=ROLLOUT_ACTIVE).update(
            state=RolloutState.FAILED, reason=reason, finished_at=timezone.now())
        return {"rollout": rollout_id, "status": "failed", "reason": reason}
    else:
        if not _save(r, token, with_state=True):  # staff rolled it back, or a newer chain took over
            return {"rollout": rollout_id, "status": "superseded"}
    if again is not None:
        from .celery_app import app

        app.send_task(TICK_TASK, args=[rollout_id, token], queue="training", countdown=again)
    return {"rollout": rollout_id, "state": r.state, "next_s": again}


def _save(r, token: str | None = None, with_state: bool = False) -> bool:
    """Write what a tick changed -- only while this chain (``token``) still runs the rollout and no one
    (a staff rollback) moved it out of a running state meanwhile."""
    from registry.models import ROLLOUT_ACTIVE, EncoderRollout, RolloutState

    fields = {"progress": r.progress, "results": r.results}
    if with_state:
        fields.update(state=r.state, reason=r.reason, verdict=r.verdict, finished_at=r.finished_at)
    return bool(EncoderRollout.objects.filter(pk=r.pk, tick=token or r.tick,
                                              state__in=[*ROLLOUT_ACTIVE, RolloutState.LIVE]).update(**fields))


def sweep_rollouts(now=None) -> dict:
    """Start a new chain of ticks for a rollout whose ticks stopped (its worker died), up to ``MAX_CHAINS``."""
    from datetime import timedelta

    from registry.models import ROLLOUT_ACTIVE, EncoderRollout, RolloutState
    from registry.rollouts import send_tick

    from .training import stale_after_s

    now = now or timezone.now()
    out = {"restarted": [], "failed": []}
    stale = now - timedelta(seconds=stale_after_s())
    for r in EncoderRollout.objects.filter(state__in=[*ROLLOUT_ACTIVE, RolloutState.LIVE], finished_at__isnull=True,
                                           heartbeat_at__lt=stale):
        if r.attempts >= MAX_CHAINS:
            EncoderRollout.objects.filter(pk=r.pk).update(state=RolloutState.FAILED, finished_at=now,
                                                          reason=f"its worker stopped {MAX_CHAINS} times")
            out["failed"].append(r.pk)
            continue
        with transaction.atomic():
            EncoderRollout.objects.filter(pk=r.pk).update(attempts=r.attempts + 1, heartbeat_at=now)
            send_tick(r, new_chain=True)
        out["restarted"].append(r.pk)
    return out


@shared_task(name=TICK_TASK, ignore_result=True, acks_late=True, reject_on_worker_lost=True,
             soft_time_limit=600, time_limit=660)
def tick_task(rollout_id: int, token: str) -> dict:
    return tick(rollout_id, token)


@shared_task(name="workers.rollout.sync_serving", ignore_result=True, acks_late=True)
def sync_serving_task() -> str | None:
    return sync_serving()
