"""A synthetic organisation for registry tests: subjects, labels, processed sessions, from gaitcore.synth.

Labels are the generator's own phenotypes (``phenotype_values``, age, BMI). Engineered features are the
generator's movement and body parameters (``oracle.session_numbers``) under the catalogue's names, with
measurement noise. The "embedding" rows are a fixed random projection (64-d) of the same parameters plus
noise, stored under the shipped encoder's version: they exercise the registry without running GaitMAE
over hundreds of sessions (the pipeline tests embed real sessions); their values mean nothing beyond that.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SEED = 424242
DIM = 64
TARGETS = ("age", "bmi", "systolic_bp", "grip_strength", "frailty_index", "lean_mass")

# oracle number -> catalogue feature (treadmill_3kmh task)
GAIT_MAP = {"cadence": "cadence_steps_min", "step_length": "step_length_m", "stance": "stance_pct",
            "speed": "walking_speed_m_s", "step_width": "step_width_m", "arm_swing": "arm_swing_left_mm",
            "trunk_sway": "trunk_sway_ml_mm", "stride_cv": "stride_time_cv_pct", "asymmetry": "step_time_asymmetry_pct",
            "knee_gain": "knee_rom_left_deg", "hip_ext_loss": "hip_rom_left_deg"}
BODY_MAP = {"body_thigh": "thigh_length_mm", "body_shank": "shank_length_mm", "body_upper_arm": "upper_arm_length_mm",
            "body_forearm": "forearm_length_mm"}


def many_targets(n: int) -> list[str]:
    """age, bmi and the first continuous phenotypes of the generator's catalogue: ``n`` targets."""
    from gaitcore.synth.phenotypes import PHENOTYPES

    return (["age", "bmi"] + [p.name for p in PHENOTYPES if p.transform != "binary"])[:n]


def _numbers(index: int, seed: int) -> np.ndarray:
    from gaitcore.synth.oracle import session_numbers

    nums = session_numbers(seed, index)
    return np.array([v for _, v in sorted(nums["treadmill_3kmh"].items())] + [v for _, v in sorted(nums["body"].items())])


@lru_cache(maxsize=4)
def _reference(seed: int, dim: int = DIM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and SD of the generator's numbers over 60 reference subjects, and the fixed projection."""
    ref = np.stack([_numbers(10_000 + i, seed) for i in range(60)])
    sd = ref.std(axis=0)
    return ref.mean(axis=0), np.where(sd > 0, sd, 1.0), np.random.default_rng(7).normal(size=(ref.shape[1], dim))


def subject_record(index: int, seed: int = SEED, dim: int = DIM) -> dict:
    """Labels, features, embedding, sex and birth year of synthetic subject ``index``."""
    from gaitcore.synth.cohort import rng_for, subject_at_visit
    from gaitcore.synth.oracle import session_numbers
    from gaitcore.synth.phenotypes import phenotype_values

    subj, _ = subject_at_visit(seed, index, 0)
    labels = {"age": round(subj.age, 2), "bmi": round(subj.bmi, 2),
              **phenotype_values(subj, rng_for(seed, index, "phenotypes"))}
    nums = session_numbers(seed, index)
    noise = np.random.default_rng(np.random.SeedSequence([seed, index, 99]))
    gait = {GAIT_MAP[k]: float(v) * (1 + 0.03 * noise.standard_normal()) for k, v in nums["treadmill_3kmh"].items()
            if k in GAIT_MAP}
    body = {BODY_MAP[k]: float(v) + 5 * noise.standard_normal() for k, v in nums["body"].items() if k in BODY_MAP}
    body["leg_length_mm"] = body["thigh_length_mm"] + body["shank_length_mm"]
    body["estimated_stature_mm"] = 0.9 * nums["body"]["body_height_mm"] + 10 * noise.standard_normal()
    mean, sd, proj = _reference(seed, dim)
    emb = ((_numbers(index, seed) - mean) / sd) @ proj / np.sqrt(len(mean)) + 0.3 * noise.standard_normal(dim)
    return {"labels": labels, "features": {**gait, **body}, "embedding": [float(x) for x in emb],
            "sex": "male" if subj.male else "female", "birth_year": int(2026 - subj.age)}


def shipped_encoder():
    """The shipped encoder's row (data migration 0002; transactional tests flush it, so re-create it)."""
    from importlib import import_module

    from registry.models import EncoderVersion

    shipped = import_module("registry.migrations.0002_shipped_encoder_and_cards").SHIPPED
    return EncoderVersion.objects.get_or_create(version_tag=shipped["version_tag"], defaults=shipped)[0]


def seed_organisation(org, n_subjects: int, *, first: int = 1, no_consent: int = 0, prefix: str = "S",
                      cohort_name: str = "registry", targets: list[str] | None = None, dim: int = DIM,
                      progress=None) -> dict:
    """Subjects ``first..first+n-1`` with consent to model training (+ ``no_consent`` without), one processed
    session each (embedding + features), in ``org``. Returns {"cohort", "subjects", "sessions", "csv"}."""
    from cohorts.models import Cohort, Subject
    from tenancy.scope import organisation_scope

    version = shipped_encoder().version_tag
    cols = list(targets or TARGETS)
    lines = [",".join(["subject", *cols])]
    subjects, sessions = [], []
    with organisation_scope(org):
        cohort, _ = Cohort.objects.get_or_create(name=cohort_name)
        for k in range(n_subjects + no_consent):
            i = first + k
            rec = subject_record(i, dim=dim)
            if progress and (k + 1) % 100 == 0:
                progress(k + 1)
            s = Subject.objects.create(cohort=cohort, external_id=f"{prefix}{i:05d}", birth_year=rec["birth_year"],
                                       sex=rec["sex"], consent_research=True, consent_model_training=k < n_subjects)
            sess = add_session(s, rec, version)
            subjects.append(s)
            sessions.append(sess)
            lines.append(",".join([s.external_id, *[str(rec["labels"][t]) for t in cols]]))
    return {"cohort": cohort, "subjects": subjects, "sessions": sessions, "csv": "\n".join(lines) + "\n",
            "targets": cols, "version": version}


def add_session(subject, rec: dict, version: str, status: str = "done"):
    """A processed session of ``subject`` (inside its organisation's scope) with embedding + features."""
    import hashlib

    from recordings.models import GaitSession
    from results.models import Embedding, TaskFeatures

    n = GaitSession.objects.filter(subject=subject).count()
    sha = hashlib.sha256(f"{subject.pk}-{n}-{rec['embedding'][0]}".encode()).hexdigest()
    sess = GaitSession.objects.create(subject=subject, sensor="synthetic", tasks=["treadmill_3kmh"], n_frames=900,
                                      duration_s=30.0, file_key=f"sessions/synthetic/{sha[:16]}", sha256=sha, status=status)
    TaskFeatures.objects.create(session=sess, task="treadmill_3kmh", values=rec["features"])
    for task in ("treadmill_3kmh", "ensemble"):
        Embedding.objects.create(session=sess, task=task, model_name="gaitmae", model_version=version,
                                 vector=rec["embedding"])
    return sess


def registry_objects(org) -> dict:
    """A finished job and its predictor version in ``org`` (for route tests): {"job_id", "version_id"}."""
    from registry.models import PredictorVersion, TrainingJob
    from tenancy.scope import organisation_scope

    enc = shipped_encoder()
    with organisation_scope(org):
        job = TrainingJob.objects.create(kind="finetune-heads", state="succeeded", reason="test", config={},
                                         config_hash="c" * 64, encoder=enc, snapshot={"sessions": []}, snapshot_hash="s" * 64)
        n = PredictorVersion.objects.count() + 1
        pv = PredictorVersion.objects.create(number=n, name=f"{org.slug}/heads-v{n}", encoder=enc, job=job,
                                             snapshot_hash="s" * 64, code_version="test", config={}, config_hash="c" * 64,
                                             eval_set_hash="e" * 64, artifact_key="x", arrays_sha256="a" * 64)
    return {"job_id": job.pk, "version_id": pv.pk}
