"""Cohort summaries (``results.CohortSummary``) for the dashboards, recomputed from the rows.

Per cohort and embedding model version, over each subject's latest ``done`` session plus the one being
finished: number of subjects and sessions, per phenotype the mean, SD and count of predictions, and per
(task, feature) the median of the engineered features. Computed with a handful of queries whatever the
cohort size (values are aggregated in Python from one ``values_list`` per table).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from django.db import transaction


def refresh_cohort_summary(cohort_id: int, model_version: str):
    from recordings.models import GaitSession, SessionStatus
    from results.models import CohortSummary, Prediction, TaskFeatures

    sessions = list(GaitSession.objects.filter(subject__cohort_id=cohort_id)
                    .exclude(status=SessionStatus.FAILED)
                    .order_by("subject_id", "-created_at").values_list("id", "subject_id", "status"))
    latest: dict[int, int] = {}
    for sid, subj, _ in sessions:
        latest.setdefault(subj, sid)
    ids = list(latest.values())
    preds = defaultdict(list)
    for ph, v in Prediction.objects.filter(session_id__in=ids, model_version=model_version).values_list("phenotype", "value"):
        preds[ph].append(v)
    feats = defaultdict(list)
    for task, values in TaskFeatures.objects.filter(session_id__in=ids).values_list("task", "values"):
        for k, v in (values or {}).items():
            if v is not None:
                feats[f"{task}:{k}"].append(v)
    summary = {
        "predictions": {ph: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None, "n": len(v)}
                        for ph, v in sorted(preds.items())},
        "features_median": {k: float(np.median(v)) for k, v in sorted(feats.items())},
    }
    with transaction.atomic():
        obj, _ = CohortSummary.objects.update_or_create(
            cohort_id=cohort_id, model_version=model_version,
            defaults={"n_subjects": len(latest), "n_sessions": len(sessions), "summary": summary})
    return obj
