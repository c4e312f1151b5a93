"""Two organisations for the dashboards' tests: A with a small synthetic cohort WITH results (session
files, gaitcore QC and features, demonstration predictions), an empty cohort, members of each role;
B with its own member and cohort."""

from __future__ import annotations

from dataclasses import dataclass

from cohorts.models import Cohort, Subject
from dashboards.demo import seed_cohort
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


def build_world(n_subjects: int = 6) -> World:
    org_a, org_b = make_org("dash-a"), make_org("dash-b")
    admin = make_member(org_a, Role.ADMIN, "alice-admin")
    clinician = make_member(org_a, Role.CLINICIAN, "carl-clinician")
    viewer = make_member(org_a, Role.VIEWER, "vera-viewer")
    outsider = make_member(org_b, Role.OWNER, "bob-other-org")
    with organisation_scope(org_a):
        cohort = seed_cohort(org_a, cohort_name="Cohort A", n_subjects=n_subjects, seed=3, prefix="PA",
                             failed=1, in_flight=1, qc_warnings=1, duration_scale=0.08)
        cohort2 = seed_cohort(org_a, cohort_name="Cohort A2", n_subjects=4, seed=4, prefix="PB",
                              features="drawn", store_files=False)
        empty = Cohort.objects.create(name="Empty cohort")
        subject = (Subject.objects.filter(cohort=cohort, sessions__status="done", sessions__file_key__gt="")
                   .annotate(n=Count("sessions")).order_by("-n", "external_id").first())  # a longitudinal one
        session = GaitSession.objects.filter(subject=subject, status="done").order_by("-recorded_at").first()
    with organisation_scope(org_b):
        cohort_b = seed_cohort(org_b, cohort_name="Cohort B", n_subjects=3, seed=5, prefix="QB",
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
            "phenotypes": "/dashboard/manage/phenotypes/", "audit": "/dashboard/manage/audit/"}


def object_urls(w: World) -> list[str]:
    """A's object URLs (pages and data endpoints): another organisation's member must get 404 on each."""
    return [f"/dashboard/cohorts/{w.cohort.pk}/", f"/dashboard/cohorts/{w.cohort.pk}/subjects/",
            f"/dashboard/cohorts/{w.cohort_b.pk}/?compare={w.cohort.pk}",
            f"/dashboard/subjects/{w.subject.pk}/", f"/dashboard/subjects/{w.subject.pk}/report.pdf",
            f"/dashboard/sessions/{w.session.pk}/frames.json"]
