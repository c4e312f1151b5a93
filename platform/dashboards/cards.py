"""Predictor cards from predictor artifacts (``gaitcore.probe.predictor``'s ``predictor.json``: plain JSON,
read without numpy or torch). Identity as the pipeline writes predictions (``workers.predictors``):
``model_name = predictor-<first 12 hex of arrays_sha256>``, ``model_version`` = the embedding model version."""

from __future__ import annotations

import json
from pathlib import Path

from registry.models import PredictorCard

PARTS = ("legs", "arms", "torso", "head")


def card_from_meta(meta: dict) -> PredictorCard:
    prov = meta.get("provenance") or {}
    kind = prov.get("cohort") if prov.get("cohort") in ("synthetic", "real") else "synthetic"
    attribution = {}
    for system, imp in (meta.get("attribution") or {}).items():  # optional: {system: {legs, arms, torso, head}}
        if isinstance(imp, dict) and all(isinstance(imp.get(p), int | float) for p in PARTS):
            total = sum(max(0.0, float(imp[p])) for p in PARTS) or 1.0
            attribution[system] = {p: round(max(0.0, float(imp[p])) / total, 4) for p in PARTS}
    card, _ = PredictorCard.objects.update_or_create(
        model_name=f"predictor-{str(meta.get('arrays_sha256', ''))[:12]}",
        model_version=str(meta.get("embedding_model_version", "")),
        defaults={"trained_on": f"{prov.get('source') or 'an unnamed'} cohort", "cohort_kind": kind,
                  "demonstration_only": bool(prov.get("demonstration_only", True)) or kind == "synthetic",
                  "n_training_subjects": int(meta.get("n_training_subjects") or 0),
                  "method": f"{meta.get('feature_set', 'embeddings')} -> ridge/logistic heads, nested grouped CV, "
                            f"{int(100 * float(meta.get('interval_level', 0.9)))} % split-conformal intervals",
                  "attribution": attribution})
    return card


def register_artifact(folder: str | Path) -> PredictorCard:
    return card_from_meta(json.loads((Path(folder) / "predictor.json").read_text()))
