"""Encoder promotion (platform staff): writes of ``EncoderRollout`` and the go-live rule. Each write is
atomic and audited at platform level (``tenancy.audit.record_platform``); the per-organisation alias moves
are audited in their organisation (``registry.actions._move``).

* :func:`start_rollout` -- a candidate (or retired) encoder starts its rollout; the worker task
  ``workers.rollout.tick`` runs the steps (``workers/rollout.py``);
* :func:`go_live_verdict` -- the rule: every organisation must have a predictor for the new encoder that
  passed the gate (see ``organisation_ok``), or staff override with a written reason;
* :func:`go_live` -- one transaction: the new encoder becomes the default, each organisation's champion
  moves to its new heads, and the caller's inference switch runs before the commit;
* :func:`override` -- staff accept a blocked rollout with a written reason;
* :func:`rollback_rollout` -- the previous encoder is the default again, the champions moved by the
  rollout go back (``registry.actions.rollback``, AliasEvents ``rollback``).
* :func:`live_bundle` -- (encoder tag, champion name) whose predictions the pages and API show.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from tenancy.audit import Actor, record_platform

from . import actions
from .models import ROLLOUT_ACTIVE, Alias, EncoderRollout, EncoderVersion, RolloutState

TICK_TASK = "workers.rollout.tick"
SYNC_TASK = "workers.rollout.sync_serving"


def serving_encoder() -> EncoderVersion:
    """The encoder inference serves by default: the one a rollout made default, else the newest active."""
    return EncoderVersion.objects.filter(is_default=True).first() or actions.default_encoder()


def send_tick(rollout: EncoderRollout, new_chain: bool = False) -> None:
    """Queue the rollout's next worker tick after the commit (a new chain token retires any older chain)."""
    if new_chain or not rollout.tick:
        rollout.tick = uuid.uuid4().hex
        EncoderRollout.objects.filter(pk=rollout.pk).update(tick=rollout.tick)
    actions.send_after_commit(TICK_TASK, [rollout.pk, rollout.tick], actions.TRAINING_QUEUE)


@transaction.atomic
def start_rollout(actor: Actor, encoder: EncoderVersion) -> EncoderRollout:
    encoder = EncoderVersion.objects.select_for_update().get(pk=encoder.pk)
    current = serving_encoder()
    if encoder.pk == current.pk:
        raise ValidationError({"encoder": f"{encoder.version_tag} is already the default encoder"})
    if encoder.status not in ("candidate", "retired", "active"):
        raise ValidationError({"encoder": f"{encoder.version_tag} is {encoder.status}"})
    if not encoder.artifact_uri:
        raise ValidationError({"encoder": f"{encoder.version_tag} has no artifact_uri: inference cannot load it"})
    busy = EncoderRollout.objects.filter(state__in=[*ROLLOUT_ACTIVE, RolloutState.BLOCKED]).first()
    if busy is not None:
        raise ValidationError({"encoder": f"rollout {busy.pk} ({busy.state}) is not finished; one at a time"})
    r = EncoderRollout.objects.create(from_encoder=current, to_encoder=encoder, started_by=actor.user,
                                      progress={"stage": "queued"}, reason="queued")
    record_platform(actor, "encoder.promote", encoder, rollout=r.pk, from_encoder=current.version_tag,
                    to_encoder=encoder.version_tag)
    send_tick(r, new_chain=True)
    return r


def organisation_ok(res: dict) -> tuple[bool, str]:
    """Whether one organisation's result allows go-live, and why (``res``: ``workers.rollout`` writes it).

    * ``heads`` (it has its own champion): its new heads on the new encoder passed the promotion gate;
    * ``file`` (only file-configured predictors, e.g. the demo one): if it gets predictions today, a
      file-configured artifact for the new encoder must exist -- otherwise its clinicians would stop
      getting predictions on go-live, which no clinic expects; with no predictor before either, nothing
      is lost.
    """
    kind = res.get("kind")
    if kind == "heads":
        if res.get("error"):
            return False, res["error"]
        if res.get("job_state") != "succeeded":
            return False, f"its heads job {res.get('job')} is {res.get('job_state') or 'not started'}"
        gate = res.get("gate") or {}
        if not gate.get("passed"):
            return False, "the new heads failed the promotion gate: " + "; ".join(gate.get("reasons") or ["no verdict"])
        return True, f"new heads {res.get('predictor_name')} passed the gate"
    if kind == "file":
        if res.get("file_new"):
            return True, f"file-configured predictor {res['file_new']} for the new encoder"
        if res.get("file_old"):
            return False, (f"it gets predictions from the file-configured {res['file_old']} today and there is no "
                           "predictor for the new encoder: its sessions would have no predictions")
        return True, "no predictor before or after (embeddings and features only)"
    return False, "not evaluated yet"


def go_live_verdict(results: dict, override_reason: str = "") -> dict:
    """``{"ready", "blocking": [{organisation, why}], "ok": [...], "overridden"}`` over every organisation."""
    blocking, ok = [], []
    for org_id, res in sorted(results.items(), key=lambda kv: str(kv[0])):
        passed, why = organisation_ok(res)
        (ok if passed else blocking).append({"organisation": int(org_id), "slug": res.get("slug", ""), "why": why})
    overridden = bool(blocking) and bool(override_reason.strip())
    return {"ready": not blocking or overridden, "blocking": blocking, "ok": ok, "overridden": overridden}


@transaction.atomic
def override(actor: Actor, rollout: EncoderRollout, reason: str) -> EncoderRollout:
    rollout = EncoderRollout.objects.select_for_update().get(pk=rollout.pk)
    if rollout.state != RolloutState.BLOCKED:
        raise ValidationError({"state": f"the rollout is {rollout.state}; only a blocked rollout is overridden"})
    if not reason.strip():
        raise ValidationError({"reason": "a written reason is required"})
    rollout.override_reason = reason.strip()
    rollout.verdict = go_live_verdict(rollout.results, rollout.override_reason)
    rollout.state, rollout.reason = RolloutState.GOING_LIVE, f"overridden by staff: {reason.strip()}"
    rollout.save(update_fields=["override_reason", "verdict", "state", "reason"])
    record_platform(actor, "encoder.rollout.override", rollout, reason=reason.strip(),
                    blocking=rollout.verdict["blocking"])
    send_tick(rollout, new_chain=True)
    return rollout


def _set_default(encoder: EncoderVersion) -> None:
    EncoderVersion.objects.filter(is_default=True).exclude(pk=encoder.pk).update(is_default=False)
    EncoderVersion.objects.filter(pk=encoder.pk).update(is_default=True, status="active")


@transaction.atomic
def go_live(rollout: EncoderRollout, switch=None) -> EncoderRollout:
    """The new bundle goes live: champions move to the new heads (per organisation, audited there), the
    encoder becomes the default, ``switch()`` (the inference switch, e.g. TorchServe set-default) runs
    last, inside the transaction: if it raises nothing is committed."""
    from tenancy.models import Organisation
    from tenancy.scope import organisation_scope

    from .models import AliasEvent, PredictorVersion

    rollout = EncoderRollout.objects.select_for_update().get(pk=rollout.pk)
    if rollout.state == RolloutState.LIVE:
        return rollout
    if rollout.state not in (RolloutState.GOING_LIVE, RolloutState.PREDICTING):
        raise ValidationError({"state": f"the rollout is {rollout.state}: it cannot go live"})
    verdict = go_live_verdict(rollout.results, rollout.override_reason)
    if not verdict["ready"]:
        raise ValidationError({"verdict": verdict})
    system = Actor.system()
    events = []
    for org_id, res in rollout.results.items():
        if res.get("kind") != "heads" or not res.get("predictor"):
            continue
        passed, _ = organisation_ok(res)
        org = Organisation.objects.get(pk=int(org_id))
        with organisation_scope(org):
            pv = PredictorVersion.objects.get(pk=res["predictor"])
            current = Alias.objects.filter(name="champion").first()
            if current is not None and current.predictor_id == pv.pk:
                continue
            actions._move(system, "champion", pv, "promote" if passed else "override",
                          reason=f"encoder rollout {rollout.pk}: {rollout.to_encoder.version_tag}"
                                 + ("" if passed else f"; staff override: {rollout.override_reason}"),
                          gate=res.get("gate") or {})
            events.append(AliasEvent.objects.order_by("-id").values_list("id", flat=True).first())
    _set_default(rollout.to_encoder)
    rollout.state, rollout.reason, rollout.live_at = RolloutState.LIVE, "live", timezone.now()
    rollout.verdict, rollout.alias_events = verdict, events
    rollout.save(update_fields=["state", "reason", "live_at", "verdict", "alias_events"])
    record_platform(system, "encoder.rollout.live", rollout, encoder=rollout.to_encoder.version_tag,
                    alias_events=events, verdict=verdict)
    if switch is not None:
        switch()
    return rollout


@transaction.atomic
def rollback_rollout(actor: Actor, rollout: EncoderRollout, reason: str = "") -> EncoderRollout:
    """Back to the previous bundle: the previous encoder is the default again and every champion the
    rollout moved goes back (an alias moved again since is left alone, and named in ``results``).
    Old embeddings and predictions were kept, so the pages show the previous bundle's at once; a worker
    makes TorchServe's default follow (``workers.rollout.sync_serving``)."""
    from tenancy.scope import organisation_scope

    from .models import AliasEvent

    rollout = EncoderRollout.objects.select_for_update().get(pk=rollout.pk)
    if rollout.state not in (RolloutState.LIVE, RolloutState.BLOCKED, *ROLLOUT_ACTIVE):
        raise ValidationError({"state": f"the rollout is {rollout.state}"})
    later = EncoderRollout.objects.filter(pk__gt=rollout.pk, state=RolloutState.LIVE).first()
    if later is not None:
        raise ValidationError({"state": f"rollout {later.pk} went live after this one: roll that back first"})
    was_live = rollout.state == RolloutState.LIVE
    notes = {}
    for event in AliasEvent.unscoped.filter(pk__in=rollout.alias_events).select_related("organisation"):
        with organisation_scope(event.organisation):
            current = Alias.objects.select_for_update().filter(name="champion").first()
            if current is None or current.predictor_id != event.to_predictor_id:
                notes[str(event.organisation_id)] = "its champion was moved after go-live: left as it is"
                continue
            actions.rollback(actor, alias="champion", reason=f"rollback of encoder rollout {rollout.pk}: {reason}")
    if was_live:
        if rollout.progress.get("from_default", True) or rollout.progress.get("from_served") == \
                rollout.from_encoder.version_tag:
            _set_default(rollout.from_encoder)
        else:  # the configured checkpoint served (a version the registry does not know): it serves again
            EncoderVersion.objects.filter(is_default=True).update(is_default=False)
        EncoderVersion.objects.filter(pk=rollout.to_encoder_id).update(status="retired")
    rollout.state, rollout.finished_at = RolloutState.ROLLED_BACK, timezone.now()
    rollout.reason = f"rolled back: {reason}" if reason else "rolled back"
    rollout.progress = {**rollout.progress, "rollback_notes": notes}
    rollout.save(update_fields=["state", "finished_at", "reason", "progress"])
    record_platform(actor, "encoder.rollout.rollback", rollout, reason=reason, notes=notes,
                    encoder=rollout.from_encoder.version_tag)
    actions.send_after_commit(SYNC_TASK, [], actions.TRAINING_QUEUE)
    return rollout


def live_bundle() -> tuple[str | None, str | None]:
    """(encoder tag, champion's ``model_name``) whose predictions are the current ones for the scope's
    organisation: the default encoder (None when no rollout set one) and its champion when fitted on it."""
    enc = EncoderVersion.objects.filter(is_default=True).values_list("version_tag", flat=True).first()
    champ = Alias.objects.filter(name="champion").select_related("predictor__encoder").first()
    name = None
    if champ is not None and (enc is None or champ.predictor.encoder.version_tag == enc):
        name, enc = champ.predictor.name, enc or champ.predictor.encoder.version_tag
    return enc, name
