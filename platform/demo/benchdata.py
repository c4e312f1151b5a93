"""BENCH AND TEST DATA -- synthetic result rows written straight into the results tables, for
``bench/dashboard.py`` (render time of a 1,000-subject cohort) and the dashboards' page tests. Nothing here
is a model's output and nothing here is used by ``./run demo`` (that goes through the real pipeline:
``demo.seeding``, ``manage.py seed_demo``). Kept in the ``demo`` app, out of the production apps.

* session files (optional): ``gaitcore.synth`` sessions, stored like uploaded sessions;
* QC and engineered features: computed by gaitcore on those files (``features="gaitcore"``), or drawn
  (``features="drawn"``: plausible values, because 1,000 real feature runs would take minutes);
* predictions: per body system the synthetic generator's own latent health score of that system plus
  noise, gait age = chronological age shifted by the frailty and sarcopenia factors plus noise. They carry
  the predictor card ``bench-synthetic-rows`` (synthetic, demonstration only), whose method says so.

Writes happen inside the organisation scope with the scoped managers, in one transaction, with one audit
event ("bench.seed") for the whole seeding.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from cohorts.models import Cohort, Subject
from dashboards.selectors import DEVIATION_UNIT, GAIT_AGE, SYSTEMS
from django.db import transaction
from django.utils import timezone
from recordings.models import GaitSession, SessionStatus
from registry.models import PredictorCard
from results.models import Prediction, QCReport, TaskFeatures
from tenancy.audit import Actor, record

BENCH_MODEL = ("bench-synthetic-rows", "1")
BENCH_ATTRIBUTION_SEED = 11
INTERVAL_LEVEL = 0.9


def ensure_bench_card() -> PredictorCard:
    """The predictor card of the bench rows (attribution: legs drive metabolic and frailty
    systems, torso sleep and lifestyle, as the paper reports; the rest drawn once, deterministically)."""
    rng = np.random.default_rng(BENCH_ATTRIBUTION_SEED)
    attribution = {}
    for s in SYSTEMS:
        w = rng.dirichlet([2, 1, 1, 0.6])
        if s in ("frailty", "glycemic", "metabolomics", "nmr_metabolomics", "body_composition"):
            w = np.array([0.55, 0.15, 0.2, 0.1])
        elif s in ("sleep", "lifestyle"):
            w = np.array([0.2, 0.15, 0.5, 0.15])
        attribution[s] = {k: round(float(v), 3) for k, v in zip(("legs", "arms", "torso", "head"), w / w.sum(), strict=True)}
    card, _ = PredictorCard.objects.update_or_create(
        model_name=BENCH_MODEL[0], model_version=BENCH_MODEL[1],
        defaults={"trained_on": "synthetic cohort (gaitcore.synth)", "cohort_kind": "synthetic",
                  "demonstration_only": True, "n_training_subjects": 0,
                  "method": "bench/test rows drawn from the synthetic generator's latent health scores plus "
                            "noise -- not the output of a trained model",
                  "attribution": attribution})
    return card


def _system_deviations(subj) -> dict[str, float]:
    from gaitcore.synth.phenotypes import LATENTS, PHENOTYPES

    x = {**subj.covariates(), **subj.latents}
    keep = set(LATENTS) | {"bmi_z", "vat_z"}
    acc: dict[str, list[float]] = {}
    for p in PHENOTYPES:
        acc.setdefault(p.system, []).append(sum(v * x[k] for k, v in p.loadings.items() if k in keep))
    return {s: float(np.mean(v)) for s, v in acc.items()}


def _drawn_features(rng, subj) -> dict[str, float]:
    frail = subj.latents.get("frailty", 0.0)
    speed = float(np.clip(rng.normal(1.25 - 0.12 * frail - 0.004 * (subj.age - 50), 0.12), 0.4, 1.9))
    cad = float(np.clip(rng.normal(108 - 3 * frail, 6), 70, 140))
    return {"walking_speed_m_s": speed, "cadence_steps_min": cad, "stride_length_m": speed * 120 / cad,
            "double_support_pct": float(rng.normal(24 + 2 * frail, 3)), "step_width_m": float(rng.normal(0.09, 0.02)),
            "stride_time_cv_pct": float(abs(rng.normal(2.5 + 0.6 * frail, 0.8))),
            "step_time_asymmetry_pct": float(abs(rng.normal(2.0, 1.5)))}


@transaction.atomic
def seed_bench_cohort(org, *, cohort_name: str, n_subjects: int, seed: int = 7, visits: int = 2,
                features: str = "gaitcore", store_files: bool = True, prefix: str = "SYN",
                failed: int = 0, in_flight: int = 0, qc_warnings: int = 0, duration_scale: float = 0.12) -> Cohort:
    """A cohort of ``n_subjects`` synthetic subjects, each with 1..``visits`` processed sessions and their
    QC, features and (bench-row) predictions; plus ``failed`` failed and ``in_flight`` processing
    sessions so the home page shows every state. Call inside ``organisation_scope(org)``."""
    from gaitcore.synth.cohort import build_session, subject_at_visit

    card = ensure_bench_card()
    cohort, _ = Cohort.objects.get_or_create(name=cohort_name, defaults={"description": "synthetic bench cohort (result rows, not model output)"})
    rng = np.random.default_rng(seed)
    now = timezone.now()
    subjects, sessions, qcs, feats, preds = [], [], [], [], []
    plan = []
    for i in range(n_subjects):
        subj0, _ = subject_at_visit(seed, i, 0)
        n_vis = visits if subj0.longitudinal else 1
        birth_year = int(round((now - timedelta(days=365.25 * (subj0.age + 1.0 * (n_vis - 1)))).year))
        subjects.append(Subject(organisation=org, cohort=cohort, external_id=f"{prefix}-{i + 1:04d}",
                                birth_year=birth_year, sex="male" if subj0.male else "female",
                                height_cm=round(subj0.height * 100, 1), consent_research=True,
                                weight_kg=round(subj0.bmi * subj0.height ** 2, 1)))
        plan.append(n_vis)
    Subject.objects.bulk_create(subjects)
    warn_left = qc_warnings
    for i, (subject, n_vis) in enumerate(zip(subjects, plan, strict=True)):
        for v in range(n_vis):
            subj, years = subject_at_visit(seed, i, v)
            when = now - timedelta(days=365.25 * (n_vis - 1) - 365.25 * years + 3) + timedelta(minutes=i)
            s = GaitSession(organisation=org, subject=subject, recorded_at=when, sensor="synthetic",
                            status=SessionStatus.DONE, processed_at=when, attempts=1, sha256="0" * 64,
                            status_reason="bench seeding (synthetic result rows)")
            values, qc, task_qc = {}, {"fraction_missing": round(float(abs(rng.normal(0.03, 0.03))), 4)}, []
            if features == "gaitcore" or store_files:
                session, _ = build_session(seed, i, v, duration_scale=duration_scale)
                s.tasks = [t.task for t in session.tasks]
                s.n_frames, s.duration_s = session.n_frames, float(session.timestamps_us[-1] - session.timestamps_us[0]) / 1e6
                if store_files:
                    from recordings import storage

                    from gaitcore.sessionfile import to_bytes

                    data = to_bytes(session)
                    s.file_key, s.file_size = f"sessions/{org.pk}/bench-{prefix}-{i + 1:04d}-v{v}.gait.npz", len(data)
                    storage.delete_quietly(s.file_key)
                    storage.save_exact(s.file_key, data)
                if features == "gaitcore":
                    from gaitcore.features import compute_session_features
                    from gaitcore.qc import session_qc

                    q = session_qc(session).to_dict()
                    qc = {k: q[k] for k in ("fraction_missing", "fraction_low_confidence", "jitter_mm", "frame_rate_hz")}
                    task_qc = q["tasks"]  # each task's verdict, as the pipeline's validate step records it
                    for fs in compute_session_features(session):
                        values[fs.task] = fs.values
            if features == "drawn":
                values = {"treadmill_self_selected": _drawn_features(rng, subj)}
                s.tasks = ["treadmill_self_selected"]
            if warn_left > 0 and v == n_vis - 1:  # a recording with much missing tracking (bench QC warning)
                warn_left -= 1
                qc["fraction_missing"] = round(0.3 + 0.1 * float(rng.random()), 4)
            sessions.append(s)
            qcs.append((s, qc, task_qc))
            feats.append((s, values))
            preds.append((s, subj, subject))
    # a few sessions in other states (failed with a reason, still processing)
    for k in range(failed):
        sessions.append(GaitSession(organisation=org, subject=subjects[k % len(subjects)], sensor="synthetic",
                                    status=SessionStatus.FAILED, attempts=3, sha256="0" * 64, recorded_at=now,
                                    status_reason="stored file unreadable: checksum mismatch (bench row)"))
    for k in range(in_flight):
        sessions.append(GaitSession(organisation=org, subject=subjects[-1 - k], sensor="synthetic",
                                    status=SessionStatus.PROCESSING, attempts=1, sha256="0" * 64, recorded_at=now,
                                    status_reason="computing features (bench row)"))
    GaitSession.objects.bulk_create(sessions)
    QCReport.objects.bulk_create([QCReport(organisation=org, session=s, metrics=m, tasks=t,
                                           passed=m.get("fraction_missing", 0) < 0.2,
                                           issues=[] if m.get("fraction_missing", 0) < 0.2 else ["much missing tracking"])
                                  for s, m, t in qcs])
    TaskFeatures.objects.bulk_create([TaskFeatures(organisation=org, session=s, task=t, values=v)
                                      for s, vals in feats for t, v in vals.items()])
    rows = []
    for s, subj, _subject in preds:
        dev = _system_deviations(subj)
        for system in SYSTEMS:
            val = 0.8 * dev.get(system, 0.0) + float(rng.normal(0, 0.45))
            rows.append(Prediction(organisation=org, session=s, phenotype=f"{system}_deviation", body_system=system,
                                   value=round(val, 3), lower=round(val - 0.74, 3), upper=round(val + 0.74, 3),
                                   interval_level=INTERVAL_LEVEL, unit=DEVIATION_UNIT,
                                   model_name=card.model_name, model_version=card.model_version))
        lat = subj.latents
        ga = subj.age + 5.0 * lat.get("frailty", 0) + 3.0 * lat.get("sarcopenia", 0) + float(rng.normal(0, 3))
        rows.append(Prediction(organisation=org, session=s, phenotype=GAIT_AGE, body_system="age", value=round(ga, 2),
                               lower=round(ga - 6.5, 2), upper=round(ga + 6.5, 2), interval_level=INTERVAL_LEVEL,
                               unit="years", model_name=card.model_name, model_version=card.model_version))
    Prediction.objects.bulk_create(rows, batch_size=2000)
    record(Actor.system(), "bench.seed", cohort, subjects=len(subjects), sessions=len(sessions),
           features=features, predictions="bench rows (see the predictor card)")
    return cohort

