"""The demo organisation's cohorts, put through the platform's real path (``manage.py seed_demo``). Kept in the
``demo`` app, out of the production apps.

Nothing here writes a result. The seeding only does what a clinic does:

1. creates the cohorts and their subjects with the cohorts app's actions (audited, as the API does);
2. records sessions -- synthetic ones from ``gaitcore.synth`` (the full 5-task protocol at a short
   duration scale) -- and uploads each through the upload actions the REST API uses
   (``recordings.actions.create_upload`` -> ``append_chunk`` -> ``complete_upload``: size and SHA-256
   checked, file parsed, stored, session created, processing queued on commit);
3. the real Celery pipeline (``workers``: validate -> preprocess -> features -> embed -> predict ->
   aggregate) then produces every QC report, feature, embedding, prediction and cohort summary -- in the
   demo's worker process (``./run demo``), or with ``--process inline`` in a ``python -m workers.inline``
   process (Celery's eager mode: the same task functions, their failure policy and their chaining; worker
   side, since the platform never imports workers).

Predictions come from the predictor artifact(s) in ``GAIT_PREDICTOR`` (``gaitfm demo-predictor`` builds
the synthetic demonstration predictor; its card says "demonstration only -- not for clinical use").

Variety the dashboards need, all of it genuine input the pipeline judges by itself:

* several visits per longitudinal subject (``visits``; the generator ages the subject between visits);
* two cohorts (different seeds, so different people) for the side-by-side comparison;
* recordings with degraded tracking (``degraded``: the tracker loses the body or limbs in bursts covering
  that share of the joint samples) -> QC warnings (and a failed QC above 50 % missing);
* failed sessions: a recording cut to 20 frames (the validator needs 30) and a 7-s walk (a task needs 10 s
  for a model window: the preprocess step rejects it), each with the pipeline's own reason.

Idempotent: every upload has the idempotency key ``demo:<cohort prefix>:<subject>:<visit or kind>``; a
second run finds the uploads complete and creates nothing (sessions still queued or processing are
queued again, which the pipeline's idempotent steps allow).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

DURATION_SCALE = 0.17  # 5-task protocol: a 30-s treadmill task at 3 km/h, 10-s others (~1,600 frames in windows)
KEY_PREFIX = "demo:"


@dataclass(frozen=True)
class DemoCohort:
    name: str
    seed: int
    n_subjects: int
    prefix: str
    visits: int = 2  # visits of a longitudinal subject (about half of the subjects)
    degraded: tuple[float, ...] = ()  # one recording each with tracking lost for this share of joint samples
    too_short: int = 0  # extra recordings of 20 frames (the validator needs 30)
    short_tasks: int = 0  # extra recordings of one 7-s task (under 10 s: no model window)
    description: str = "synthetic demo cohort (gaitcore.synth), processed by the pipeline"


DEMO_COHORTS: tuple[DemoCohort, ...] = (
    DemoCohort("Synthetic cohort A", seed=7, n_subjects=12, prefix="SYN-A", visits=3, degraded=(0.3, 0.6), too_short=1),
    DemoCohort("Synthetic cohort B", seed=8, n_subjects=8, prefix="SYN-B", visits=2, degraded=(0.35,), short_tasks=1),
)


@dataclass
class Recording:
    key: str  # upload idempotency key
    index: int  # generator subject index
    visit: int
    kind: str  # "protocol" | "degraded" | "too_short" | "short_tasks"
    recorded_at: datetime
    lost: float = 0.0  # share of joint samples lost (degraded)


@dataclass
class PlannedSubject:
    external_id: str
    fields: dict
    recordings: list[Recording] = field(default_factory=list)


def sized(cohorts: tuple[DemoCohort, ...], subjects: list[int] | None) -> tuple[DemoCohort, ...]:
    """The cohorts with other subject counts (tests, small demos)."""
    if not subjects:
        return cohorts
    from dataclasses import replace

    return tuple(replace(c, n_subjects=n) for c, n in zip(cohorts, subjects, strict=False))


def plan(dc: DemoCohort, now: datetime) -> list[PlannedSubject]:
    """Subjects (pseudonyms and covariates at their first visit) and their recordings, oldest first; the
    latest visit of every subject was recorded in the last days."""
    from gaitcore.synth.cohort import subject_at_visit

    out = []
    for i in range(1, dc.n_subjects + 1):
        subj0, _ = subject_at_visit(dc.seed, i, 0)
        n_vis = dc.visits if subj0.longitudinal else 1
        years = [subject_at_visit(dc.seed, i, v)[1] for v in range(n_vis)]
        last = now - timedelta(days=2 + (i % 5), hours=i)
        when = [last - timedelta(days=365.25 * (years[-1] - y)) for y in years]
        birth_year = int((when[0] - timedelta(days=365.25 * subj0.age)).year)
        ext = f"{dc.prefix}-{i:03d}"
        ps = PlannedSubject(ext, {"birth_year": birth_year, "sex": "male" if subj0.male else "female",
                                  "height_cm": round(subj0.height * 100, 1),
                                  "weight_kg": round(subj0.bmi * subj0.height ** 2, 1), "consent_research": True})
        ps.recordings = [Recording(f"{KEY_PREFIX}{dc.prefix}:{i}:v{v}", i, v, "protocol", when[v]) for v in range(n_vis)]
        out.append(ps)
    for k, lost in enumerate(dc.degraded):  # the latest visit of the first subjects: tracking degraded
        rec = out[k % len(out)].recordings[-1]
        rec.kind, rec.lost = "degraded", lost
    extra = ["too_short"] * dc.too_short + ["short_tasks"] * dc.short_tasks
    for k, kind in enumerate(extra):  # an extra upload of a subject, yesterday
        ps = out[(len(dc.degraded) + k) % len(out)]
        ps.recordings.append(Recording(f"{KEY_PREFIX}{dc.prefix}:{ps.recordings[0].index}:{kind}",
                                       ps.recordings[0].index, len(ps.recordings), kind, now - timedelta(days=1, hours=k)))
    return out


def degrade(session, lost: float, rng: np.random.Generator) -> None:
    """The body tracker loses the person in bursts (every joint NONE) and the far-side arm and leg in
    others, until about ``lost`` of the joint samples are missing. In place."""
    from gaitcore.schemas import AZURE32, Confidence

    conf = session.confidence
    t = len(conf)
    far = [AZURE32.joints.index(n) for n in AZURE32.joints if n.endswith("_LEFT") and
           any(p in n for p in ("SHOULDER", "ELBOW", "WRIST", "HAND", "THUMB", "HIP", "KNEE", "ANKLE", "FOOT"))]
    missing = np.zeros(conf.shape, bool)
    while missing.mean() < lost:
        start, length = int(rng.integers(0, t)), int(rng.integers(10, 60))
        if rng.random() < 0.6:
            missing[start:start + length] = True
        else:
            missing[start:start + length, far] = True
    conf[missing] = Confidence.NONE


def recording_bytes(dc: DemoCohort, rec: Recording, duration_scale: float) -> bytes:
    """The session file of one planned recording."""
    from gaitcore.sessionfile import Session, TaskSegment, to_bytes
    from gaitcore.synth.cohort import build_session

    if rec.kind == "short_tasks":  # a 7-s walk only: parses, validates, but is too short for a model window
        session, _ = build_session(dc.seed, rec.index, 0, tasks=("treadmill_self_selected",), duration_scale=0.12)
    else:
        session, _ = build_session(dc.seed, rec.index, rec.visit if rec.kind != "too_short" else 0,
                                   duration_scale=duration_scale)
    if rec.kind == "too_short":  # the recording stopped after 20 frames
        n = 20
        seg = session.tasks[0]
        session = Session(session.positions[:n], session.confidence[:n], session.timestamps_us[:n], session.subject,
                          session.sensor, [TaskSegment(seg.task, 0, n)], session.metadata, session.session_id)
    if rec.kind == "degraded":
        degrade(session, rec.lost, np.random.default_rng(np.random.SeedSequence([dc.seed, rec.index, rec.visit, 99])))
    return to_bytes(session)


def upload(actor, subject, rec: Recording, data: bytes):
    """One upload through the API's actions (create -> one chunk with its checksum -> complete). Returns
    the session (processing is queued when the transaction commits)."""
    from recordings import actions

    from gaitcore.sessionfile import from_bytes

    digest = hashlib.sha256(data)
    tasks = [t.task for t in from_bytes(data, name="demo").tasks]
    up, _ = actions.create_upload(actor, idempotency_key=rec.key, subject=subject, format="gait-session",
                                  size=len(data), sha256=digest.hexdigest(), tasks=tasks,
                                  filename=f"{subject.external_id}-{rec.visit}.gait.npz", recorded_at=rec.recorded_at)
    if up.offset == 0:
        up = actions.append_chunk(actor, up, offset=0, data=data,
                                  checksum=actions.parse_chunk_checksum("sha256 " + base64.b64encode(digest.digest()).decode()))
    return actions.complete_upload(actor, up)


def seed(org, cohorts: tuple[DemoCohort, ...] = DEMO_COHORTS, *, duration_scale: float = DURATION_SCALE,
         progress: Callable[[str], None] = lambda _m: None) -> dict:
    """Create what is missing of the demo cohorts, subjects and uploads (call inside the organisation
    scope). Returns {"created": n uploads, "sessions": [ids of every demo session]}."""
    from cohorts import actions as cohort_actions
    from cohorts.models import Cohort, Subject
    from django.utils import timezone
    from recordings.models import Upload, UploadStatus
    from tenancy.audit import Actor

    actor = Actor.system()
    now = timezone.now()
    created, total = 0, sum(len(ps.recordings) for dc in cohorts for ps in plan(dc, now))
    for dc in cohorts:
        cohort = (Cohort.objects.filter(name=dc.name).first()
                  or cohort_actions.create_cohort(actor, name=dc.name, description=dc.description))
        for ps in plan(dc, now):
            subject = (Subject.objects.filter(external_id=ps.external_id).first()
                       or cohort_actions.create_subject(actor, cohort=cohort, external_id=ps.external_id, **ps.fields))
            for rec in ps.recordings:
                if Upload.objects.filter(idempotency_key=rec.key, status=UploadStatus.COMPLETE).exists():
                    continue
                upload(actor, subject, rec, recording_bytes(dc, rec, duration_scale))
                created += 1
                progress(f"uploaded {created} of {total} demo recordings ({ps.external_id}, {rec.kind})")
    return {"created": created, "sessions": demo_session_ids()}


def demo_session_ids() -> list[int]:
    from recordings.models import Upload

    return list(Upload.objects.filter(idempotency_key__startswith=KEY_PREFIX, session__isnull=False)
                .order_by("session_id").values_list("session_id", flat=True))


def unfinished(ids) -> list[int]:
    from recordings.models import GaitSession, SessionStatus

    final = (SessionStatus.DONE, SessionStatus.FAILED)
    return list(GaitSession.objects.filter(pk__in=ids).exclude(status__in=final).order_by("pk").values_list("pk", flat=True))


def requeue(ids) -> None:
    """Queue sessions again exactly as the API does (after an interrupted start; the steps are idempotent)."""
    from recordings.actions import queue_processing
    from recordings.models import GaitSession

    for s in GaitSession.objects.filter(pk__in=ids):
        queue_processing(s)


def status_summary(ids) -> dict[str, int]:
    from django.db.models import Count
    from recordings.models import GaitSession

    return {r["status"]: r["n"] for r in GaitSession.objects.filter(pk__in=ids).order_by().values("status")
            .annotate(n=Count("id"))}
