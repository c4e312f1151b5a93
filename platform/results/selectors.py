"""Which predictions are current: the live bundle (``registry.rollouts.live_bundle``: the default encoder
and the organisation's champion on it) and the lineage of a prediction. Older bundles' predictions are
kept, keyed by ``(model_name, model_version)``; the pages and ``?live=true`` show the live bundle's."""

from __future__ import annotations


def live_bundle() -> tuple[str | None, str | None]:
    from registry.rollouts import live_bundle as bundle

    return bundle()


def is_live(model_name: str, model_version: str, bundle) -> bool:
    enc, name = bundle or (None, None)
    return (enc is None or model_version == enc) and (name is None or model_name == name)


def lineage(p, bundle=None) -> dict:
    """The encoder and predictor versions that produced prediction ``p`` (select ``encoder_version`` and
    ``predictor_version`` with it)."""
    enc = p.encoder_version
    pv = p.predictor_version
    return {
        "encoder": None if enc is None else {"id": enc.pk, "version_tag": enc.version_tag,
                                             "weights_digest": enc.weights_digest, "file_sha256": enc.file_sha256,
                                             "status": enc.status, "job": enc.job_id},
        "predictor": ({"id": pv.pk, "number": pv.number, "name": pv.name, "job": pv.job_id,
                       "snapshot_hash": pv.snapshot_hash, "code_version": pv.code_version,
                       "config_hash": pv.config_hash, "file_configured": False} if pv is not None else
                      {"name": p.model_name, "file_configured": True}),
        "live": is_live(p.model_name, p.model_version, bundle),
    }


def pick_live(preds: list) -> list:
    """Of one session's predictions (all bundles), those of the live bundle; else those of the bundle that
    wrote last (e.g. a file-configured predictor no rollout made live)."""
    if not preds:
        return preds
    bundle = live_bundle()
    live = [p for p in preds if is_live(p.model_name, p.model_version, bundle)]
    pairs = {(p.model_name, p.model_version) for p in live}
    if live and len(pairs) == 1:
        return live
    pool = live or preds
    newest = max(pool, key=lambda p: (p.created_at, p.id))
    return [p for p in pool if (p.model_name, p.model_version) == (newest.model_name, newest.model_version)]
