"""Two organisations for the dashboards' tests: A with two small synthetic cohorts WITH results, an empty
cohort, members of each role; B with its own member and cohort.

A's results come either from bench rows (``demo.benchdata``: fast, for the page tests) or -- with
``pipeline=(checkpoint, predictor folder)`` -- through the demo's real path (``demo.seeding``: uploads
through the API's actions, then the Celery pipeline in eager mode with that checkpoint and predictor), as
``./run demo`` does (the browser test)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cohorts.models import Cohort, Subject
from demo.benchdata import seed_bench_cohort
from django.db.models import Count
from recordings.models import GaitSession
from tenancy.models import Role
from tenancy.scope import organisation_scope

from tests.platform.factories import make_member, make_org

PASSWORD = "pw-123456789"


@dataclass
class World:
    org_a: object
    org_b: object
    admin: object
    clinician: object
    viewer: object
    outsider: object
    cohort: object
    cohort2: object
    empty_cohort: object
    subject: object
    session: object
    cohort_b: object
    subject_b: object


def pipeline_models(folder: Path) -> tuple[Path, Path]:
    """A seeded tiny GaitMAE checkpoint and a demo predictor fitted on its embeddings of 30 synthetic
    subjects by ``gaitfm demo-predictor`` (tiny sizes: about 15 s)."""
    import contextlib
    import io

    from gaitcore.cli import main
    from tests.pipeline_support import tiny_checkpoint

    ckpt = tiny_checkpoint(Path(folder))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["demo-predictor", "--out", str(Path(folder) / "predictors"), "--checkpoint", str(ckpt),
                     "--subjects", "30", "--seeds", "1", "--sex-specific", "", "--duration-scale", "0.1", "-q"]) == 0
    return ckpt, Path(out.getvalue().strip().splitlines()[-1])


def seed_through_pipeline(org, cohorts, ckpt: Path, predictor: Path, duration_scale: float = 0.17) -> dict:
    """Upload ``cohorts`` (``demo.seeding.DemoCohort``) and run the Celery pipeline on them in this process."""
    from dashboards.cards import register_artifact
    from demo import seeding as demo
    from django.test import override_settings

    register_artifact(predictor)
    old = os.environ.get("GAIT_PREDICTOR")
    os.environ["GAIT_PREDICTOR"] = str(predictor)
    try:
        with override_settings(MODEL_CHECKPOINT=str(ckpt), INFERENCE_BACKEND="inprocess"):
            res = demo.seed(org, cohorts, duration_scale=duration_scale)
            from workers.inline import process_inline

            process_inline(demo.unfinished(res["sessions"]), org.pk)
    finally:
        if old is None:
            os.environ.pop("GAIT_PREDICTOR", None)
        else:
            os.environ["GAIT_PREDICTOR"] = old
    return res


def build_world(n_subjects: int = 6, pipeline: tuple[Path, Path] | None = None) -> World:
    org_a, org_b = make_org("dash-a"), make_org("dash-b")
    admin = make_member(org_a, Role.ADMIN, "alice-admin")
    clinician = make_member(org_a, Role.CLINICIAN, "carl-clinician")
    viewer = make_member(org_a, Role.VIEWER, "vera-viewer")
    outsider = make_member(org_b, Role.OWNER, "bob-other-org")
    with organisation_scope(org_a):
        if pipeline:
            from demo.seeding import DemoCohort

            seed_through_pipeline(org_a, (
                DemoCohort("Cohort A", seed=3, n_subjects=n_subjects, prefix="PA", visits=3, degraded=(0.35, 0.6),
                           too_short=1),
                DemoCohort("Cohort A2", seed=4, n_subjects=4, prefix="PB", visits=1)), *pipeline)
            cohort, cohort2 = Cohort.objects.get(name="Cohort A"), Cohort.objects.get(name="Cohort A2")
        else:
            cohort = seed_bench_cohort(org_a, cohort_name="Cohort A", n_subjects=n_subjects, seed=3, prefix="PA",
                                       failed=1, in_flight=1, qc_warnings=1, duration_scale=0.08)
            cohort2 = seed_bench_cohort(org_a, cohort_name="Cohort A2", n_subjects=4, seed=4, prefix="PB",
                                        features="drawn", store_files=False)
        empty = Cohort.objects.create(name="Empty cohort")
        subject = (Subject.objects.filter(cohort=cohort, sessions__status="done", sessions__file_key__gt="")
                   .annotate(n=Count("sessions")).order_by("-n", "external_id").first())  # a longitudinal one
        session = GaitSession.objects.filter(subject=subject, status="done").order_by("-recorded_at").first()
    with organisation_scope(org_b):
        cohort_b = seed_bench_cohort(org_b, cohort_name="Cohort B", n_subjects=3, seed=5, prefix="QB",
                               features="drawn", store_files=False)
        subject_b = Subject.objects.filter(cohort=cohort_b).first()
    return World(org_a, org_b, admin, clinician, viewer, outsider, cohort, cohort2, empty, subject, session,
                 cohort_b, subject_b)


def page_urls(w: World) -> dict[str, str]:
    """Every page of A (name -> path) a member should see."""
    return {
        "home": "/dashboard/",
        "cohort-profile": f"/dashboard/cohorts/{w.cohort.pk}/",
        "cohort-compare": f"/dashboard/cohorts/{w.cohort.pk}/?compare={w.cohort2.pk}",
        "cohort-filtered": f"/dashboard/cohorts/{w.cohort.pk}/?sex=female&age=40-59",
        "cohort-empty": f"/dashboard/cohorts/{w.empty_cohort.pk}/",
        "cohort-subjects": f"/dashboard/cohorts/{w.cohort.pk}/subjects/",
        "subject-report": f"/dashboard/subjects/{w.subject.pk}/",
    }


def admin_urls() -> dict[str, str]:
    return {"members": "/dashboard/manage/members/", "tokens": "/dashboard/manage/tokens/",
            "cohorts": "/dashboard/manage/cohorts/", "subjects": "/dashboard/manage/subjects/",
            "phenotypes": "/dashboard/manage/phenotypes/", "audit": "/dashboard/manage/audit/",
            "organisation": "/dashboard/manage/organisation/"}


def object_urls(w: World) -> list[str]:
    """A's object URLs (pages and data endpoints): another organisation's member must get 404 on each."""
    return [f"/dashboard/cohorts/{w.cohort.pk}/", f"/dashboard/cohorts/{w.cohort.pk}/subjects/",
            f"/dashboard/cohorts/{w.cohort_b.pk}/?compare={w.cohort.pk}",
            f"/dashboard/subjects/{w.subject.pk}/", f"/dashboard/subjects/{w.subject.pk}/report.pdf",
            f"/dashboard/sessions/{w.session.pk}/frames.json"]
