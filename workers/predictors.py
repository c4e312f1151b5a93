"""Finding the predictor artifact for an embedding model version and building its input row.

A predictor (``gaitcore.probe.predictor.Predictor``, JSON + NPZ, no pickles) is fitted on one
embedding model version; only that version's embeddings go into it. Its identity in ``Prediction``
rows: ``model_name`` = ``predictor-<first 12 hex of its arrays' SHA-256>``, ``model_version`` = the
embedding model version.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from gaitcore.synth.phenotypes import body_system  # noqa: F401 - the predict step's system of a target

from . import config

log = logging.getLogger("workers")

@lru_cache(maxsize=16)
def _load(folder: str, mtime: float):
    from gaitcore.probe.predictor import Predictor

    return Predictor.load(folder)


def find_predictor(model_version: str):
    """(Predictor, name) of the first configured artifact fitted on ``model_version``, else None."""
    for folder in config.predictor_dirs():
        meta = Path(folder) / "predictor.json"
        if not meta.exists():
            log.warning("predictor folder %s has no predictor.json", folder)
            continue
        pred = _load(str(folder), meta.stat().st_mtime)
        if pred.meta.get("embedding_model_version") == model_version:
            return pred, f"predictor-{pred.meta.get('arrays_sha256', '')[:12]}"
    return None


def session_inputs(predictor, vectors: dict[str, list[float]]) -> tuple[np.ndarray, list[str]]:
    """One input row from the session's per-task embeddings, in the predictor's task mode."""
    from gaitcore.model.embedding import embedding_columns

    tasks = [t for t in sorted(vectors) if t != "ensemble"]
    if predictor.meta.get("tasks"):
        tasks = [t for t in tasks if t in predictor.meta["tasks"]]
    if not tasks:
        return np.full((1, len(predictor.meta["columns"])), np.nan), list(predictor.meta["columns"])
    dim = len(vectors[tasks[0]]) // 8
    cols = embedding_columns(dim)
    if predictor.meta.get("task_mode") == "concat" and len(tasks) > 1:
        x = np.concatenate([np.asarray(vectors[t], float) for t in tasks])
        return x[None], [f"{t}:{c}" for t in tasks for c in cols]
    x = np.mean([np.asarray(vectors[t], float) for t in tasks], axis=0)
    return x[None], cols


def subject_covariates(session) -> tuple[str, float]:
    """("M" | "F" | "", age in years at the recording) of the session's subject."""
    subj = session.subject
    sex = {"male": "M", "female": "F"}.get(subj.sex, "")
    year = (session.recorded_at or session.created_at).year
    return sex, float(year - subj.birth_year) if subj.birth_year else float("nan")


class Chosen:
    """The predictor a session's predictions come from, and the registry versions to key them by."""

    def __init__(self, predictor, name: str, predictor_version_id=None, encoder_version_id=None, registry=False):
        self.predictor, self.name = predictor, name
        self.predictor_version_id, self.encoder_version_id, self.registry = predictor_version_id, encoder_version_id, registry


def choose_predictor(model_version: str, predictor_version: int | None = None) -> Chosen | None:
    """The organisation's champion (``registry``) when it was fitted on ``model_version``, else the first
    configured artifact for it (e.g. the demo predictor). ``predictor_version``: that version of the
    organisation instead (a rollout predicts with the new heads before they become the champion); it must
    be fitted on ``model_version``. Runs inside the organisation scope."""
    from registry.models import Alias, EncoderVersion, PredictorVersion

    from .training import load_artifact

    if predictor_version is not None:
        pv = PredictorVersion.objects.select_related("encoder").get(pk=predictor_version)  # scoped: fails closed
        if pv.encoder.version_tag != model_version:
            raise ValueError(f"{pv.name} is fitted on {pv.encoder.version_tag}, not {model_version}")
        return Chosen(load_artifact(pv.artifact_key, pv.arrays_sha256), pv.name, pv.pk, pv.encoder_id, True)
    alias = Alias.objects.filter(name="champion").select_related("predictor__encoder").first()
    if alias is not None and alias.predictor.encoder.version_tag == model_version:
        pv = alias.predictor
        return Chosen(load_artifact(pv.artifact_key, pv.arrays_sha256), pv.name, pv.pk, pv.encoder_id, True)
    found = find_predictor(model_version)
    if found is None:
        return None
    enc = EncoderVersion.objects.filter(version_tag=model_version).values_list("id", flat=True).first()
    return Chosen(found[0], found[1], None, enc)


def chosen_inputs(chosen: Chosen, session_id: int, vectors: dict[str, list[float]]) -> tuple[np.ndarray, list[str]]:
    """The input row of a session for ``chosen``: registry heads read embedding + features
    (``gaitcore.probe.finetune.session_row``), file artifacts the embedding in their task mode."""
    if not chosen.registry:
        return session_inputs(chosen.predictor, vectors)
    from results.models import TaskFeatures

    from gaitcore.probe.finetune import session_row

    feats = dict(TaskFeatures.objects.filter(session_id=session_id).values_list("task", "values"))
    x, cols = session_row(vectors, feats)
    return x[None], cols
