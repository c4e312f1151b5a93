"""Dashboards without a browser: scoping (404 across organisations), roles, the PDF, management writes
through the audited actions, query counts that do not grow with rows."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tenancy.models import APIToken, AuditEvent, Membership
from tenancy.scope import organisation_scope

from tests.platform.dashboards.seed import PASSWORD, admin_urls, build_world, object_urls, page_urls
from tests.platform.factories import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world(n_subjects=4)


def login(client, user):
    return verified_login(client, user, PASSWORD)


def test_every_page_renders_for_admin_and_clinician(client, world):
    login(client, world.admin)
    for name, url in {**page_urls(world), **admin_urls()}.items():
        r = client.get(url)
        assert r.status_code == 200, (name, r.status_code)
    client.logout()
    login(client, world.clinician)
    for name, url in page_urls(world).items():
        assert client.get(url).status_code == 200, name
    assert client.get("/dashboard/manage/subjects/").status_code == 200
    assert client.get("/dashboard/manage/tokens/").status_code == 403  # role, not existence


def test_other_organisation_gets_404(client, world):
    login(client, world.outsider)
    for url in object_urls(world):
        assert client.get(url).status_code == 404, url
    # and its own cohort renders, without A's data
    r = client.get(f"/dashboard/cohorts/{world.cohort_b.pk}/")
    assert r.status_code == 200 and b"PA-0001" not in r.content


def test_anonymous_is_sent_to_login(client, world):
    r = client.get(f"/dashboard/subjects/{world.subject.pk}/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_switcher_only_to_own_organisations(client, world):
    with organisation_scope(world.org_b):
        Membership.objects.create(user=world.admin, role="viewer")
    login(client, world.admin)
    assert b'id="org-switcher"' in client.get("/dashboard/").content
    assert client.post("/dashboard/switch/", {"organisation": world.org_b.pk}).status_code == 302
    assert client.get(f"/dashboard/cohorts/{world.cohort_b.pk}/").status_code == 200
    assert client.get(f"/dashboard/cohorts/{world.cohort.pk}/").status_code == 404  # now in B's scope
    client.logout()
    login(client, world.clinician)
    assert client.post("/dashboard/switch/", {"organisation": world.org_b.pk}).status_code == 404


def test_demonstration_mark_on_every_prediction_page(client, world):
    login(client, world.clinician)
    for url in (f"/dashboard/cohorts/{world.cohort.pk}/", f"/dashboard/subjects/{world.subject.pk}/"):
        body = client.get(url).content.decode()
        assert "Demonstration only — not for clinical use" in body
        assert "bench-synthetic-rows" in body and "synthetic cohort" in body


def test_pdf_has_pseudonym_and_predictions(client, world):
    from pypdf import PdfReader

    login(client, world.clinician)
    r = client.get(f"/dashboard/subjects/{world.subject.pk}/report.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert world.subject.external_id in text
    assert "Predicted deviation per body system" in text and "Cardiovascular" in text and "Gait age" in text
    assert "DEMONSTRATION ONLY" in text
    # and it renders (poppler, when installed): page 1 as a PNG next to the browser screenshots
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("pdftoppm"):
        out = Path(__file__).resolve().parents[3] / "var" / "test-artifacts" / "dashboards"
        out.mkdir(parents=True, exist_ok=True)
        (out / "subject-report.pdf").write_bytes(r.content)
        subprocess.run(["pdftoppm", "-png", "-r", "70", str(out / "subject-report.pdf"), str(out / "pdf-page")],
                       check=True, timeout=60)
        assert (out / "pdf-page-1.png").stat().st_size > 5000


def test_frames_json(client, world):
    login(client, world.viewer)
    d = client.get(f"/dashboard/sessions/{world.session.pk}/frames.json").json()
    assert len(d["joints"]) == 26 and len(d["bones"]) == 25 and len(d["frames"]) > 10
    d2 = client.get(f"/dashboard/sessions/{world.session.pk}/frames.json?task=sit_to_stand").json()
    assert d2["task"] == "sit_to_stand"


def test_token_shown_once_and_revoked_with_audit(client, world):
    login(client, world.admin)
    r = client.post("/dashboard/manage/tokens/", {"name": "uploader-1", "role": "clinician", "expires_in_days": 30})
    body = r.content.decode()
    assert 'id="new-token"' in body and "gait_" in body
    assert 'id="new-token"' not in client.get("/dashboard/manage/tokens/").content.decode()
    with organisation_scope(world.org_a):
        tok = APIToken.objects.get(name="uploader-1")
    client.post(f"/dashboard/manage/tokens/{tok.pk}/revoke/")
    with organisation_scope(world.org_a):
        tok.refresh_from_db()
        assert tok.revoked_at is not None
        assert set(AuditEvent.objects.values_list("action", flat=True)) >= {"token.create", "token.revoke"}
    # a clinician cannot mint an admin token through the form (roles above one's own are not offered)
    client.logout()
    login(client, world.clinician)
    assert client.post("/dashboard/manage/tokens/", {"name": "x", "role": "admin", "expires_in_days": 3}).status_code == 403


def test_the_owner_turns_pooled_pretraining_on_and_off_on_the_organisation_page(client, world):
    from tenancy.models import Role

    from tests.platform.factories import make_member

    login(client, world.admin)  # an admin sees the setting but may not change it
    r = client.get("/dashboard/manage/organisation/")
    assert b"Pooled pretraining is <b>off</b>" in r.content and b'id="pooled-form"' not in r.content
    r = client.post("/dashboard/manage/organisation/", {"pooled_pretraining": "on"}, follow=True)
    assert b"only the organisation&#x27;s owner" in r.content
    world.org_a.refresh_from_db()
    assert not world.org_a.pooled_pretraining
    client.logout()
    owner = make_member(world.org_a, Role.OWNER, "olga-owner")
    owner.set_password(PASSWORD)
    owner.save()
    login(client, owner)
    r = client.post("/dashboard/manage/organisation/", {"pooled_pretraining": "on", "reason": "consortium"},
                    follow=True)
    assert b"Pooled pretraining is <b>on</b>" in r.content and b"consortium" in r.content
    client.post("/dashboard/manage/organisation/", {"reason": "consortium ended"})
    world.org_a.refresh_from_db()
    assert not world.org_a.pooled_pretraining
    with organisation_scope(world.org_a):
        events = list(AuditEvent.objects.filter(action="organisation.pooled_pretraining").order_by("id")
                      .values_list("actor_user__username", "data"))
    assert events == [("olga-owner", {"enabled": True, "reason": "consortium"}),
                      ("olga-owner", {"enabled": False, "reason": "consortium ended"})]
    world.org_b.refresh_from_db()
    assert not world.org_b.pooled_pretraining


def test_cohort_create_rename_archive(client, world):
    login(client, world.admin)
    client.post("/dashboard/manage/cohorts/", {"name": "New cohort", "description": ""})
    from cohorts.models import Cohort

    with organisation_scope(world.org_a):
        c = Cohort.objects.get(name="New cohort")
    client.post(f"/dashboard/manage/cohorts/{c.pk}/", {"op": "rename", "name": "Renamed cohort"})
    client.post(f"/dashboard/manage/cohorts/{c.pk}/", {"op": "archive"})
    with organisation_scope(world.org_a):
        c.refresh_from_db()
        assert c.name == "Renamed cohort" and c.archived_at is not None
        assert {"cohort.create", "cohort.update", "cohort.archive"} <= set(AuditEvent.objects.values_list("action", flat=True))
    client.get("/dashboard/")  # (consumes the flash message)
    assert b"Renamed cohort</a>" not in client.get("/dashboard/").content  # archived cohorts leave the home page
    # another organisation's cohort cannot be touched
    client.post(f"/dashboard/manage/cohorts/{world.cohort_b.pk}/", {"op": "archive"})
    with organisation_scope(world.org_b):
        world.cohort_b.refresh_from_db()
        assert world.cohort_b.archived_at is None


def test_duplicate_cohort_name_reads_as_a_sentence_and_logout_lands_on_our_login(client, world):
    login(client, world.admin)
    r = client.post("/dashboard/manage/cohorts/", {"name": "Cohort A", "description": ""})
    body = r.content.decode()
    assert "already exists" in body and "__all__" not in body and "Organisation and Name" not in body
    r = client.post("/accounts/logout/")
    assert r.status_code == 302 and r["Location"] == "/accounts/login/"
    assert "quality time" not in client.get(r["Location"]).content.decode()


def test_subject_csv_import_reports_rows_and_move(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, world.clinician)
    csv = (b"external_id,birth_year,sex,consent_research\nNEW-1,1970,female,yes\nNEW-2,abc,male,no\n"
           b"PA-0001,1980,male,no\nbad name!,1980,male,no\nNEW-3,1985,other,\n")
    r = client.post("/dashboard/manage/subjects/", {"form": "import", "cohort": world.empty_cohort.pk,
                                                    "file": SimpleUploadedFile("s.csv", csv, "text/csv")})
    body = r.content.decode()
    assert "5 rows: <b>2</b> added, <b>3</b> rejected" in body
    assert "birth_year is not a number" in body and "already exists" in body
    from cohorts.models import Subject

    with organisation_scope(world.org_a):
        new = list(Subject.objects.filter(external_id__startswith="NEW-").order_by("external_id"))
    assert [s.external_id for s in new] == ["NEW-1", "NEW-3"]
    client.post("/dashboard/manage/subjects/move/", {"cohort": world.cohort2.pk, "subject": [new[0].pk, world.subject_b.pk]})
    with organisation_scope(world.org_a):
        new[0].refresh_from_db()
        assert new[0].cohort_id == world.cohort2.pk
    with organisation_scope(world.org_b):
        world.subject_b.refresh_from_db()
        assert world.subject_b.cohort_id == world.cohort_b.pk  # B's subject untouched


def test_invitation_link_makes_a_member(client, world):
    login(client, world.admin)
    r = client.post("/dashboard/manage/members/", {"form": "invite", "note": "new clinician", "role": "clinician",
                                                   "expires_in_days": 7})
    import re

    link = re.search(r'id="invite-link">([^<]+)<', r.content.decode()).group(1)
    path = link.split("testserver", 1)[1]
    client.logout()
    r = client.post(path, {"username": "newbie", "password": "a-long-password-1"})
    assert r.status_code == 302
    with organisation_scope(world.org_a):
        assert Membership.objects.get(user__username="newbie").role == "clinician"
    used = client.get(path)  # a used link shows nothing of the organisation
    assert used.status_code == 404 and b"not valid" in used.content and world.org_a.name.encode() not in used.content


def test_revoked_expired_and_unknown_invitations_show_nothing(client, world):
    from datetime import timedelta

    from django.utils import timezone
    from tenancy.audit import Actor
    from tenancy.invitations import create_invitation, revoke_invitation

    with organisation_scope(world.org_a):
        revoked, revoked_key = create_invitation(Actor.system(), role="viewer")
        revoke_invitation(Actor.system(), revoked)
        expired, expired_key = create_invitation(Actor.system(), role="viewer")
        type(expired).objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for key in (revoked_key, expired_key, "inv_no-such-link"):
        for method in ("get", "post"):
            r = getattr(client, method)(f"/dashboard/invite/{key}/", {"username": "mallory", "password": "a-long-password-1"})
            body = r.content.decode()
            assert r.status_code == 404 and "not valid" in body, (key, method, r.status_code)
            assert world.org_a.name not in body and "viewer" not in body
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="mallory").exists()


def test_an_invitation_for_a_username_is_for_that_user_only(client, world):
    from tenancy.audit import Actor
    from tenancy.invitations import create_invitation

    with organisation_scope(world.org_a):
        _, key = create_invitation(Actor.system(), role="researcher", username=world.outsider.username)
    login(client, world.clinician)  # a member of A, not the invited user
    client.post(f"/dashboard/invite/{key}/")
    with organisation_scope(world.org_a):
        assert Membership.objects.get(user=world.clinician).role == "clinician"
    client.logout()
    login(client, world.outsider)  # B's owner accepts for themselves
    assert client.post(f"/dashboard/invite/{key}/").status_code == 302
    with organisation_scope(world.org_a):
        assert Membership.objects.get(user=world.outsider).role == "researcher"


def test_profile_query_count_does_not_grow(client, world, django_assert_max_num_queries):
    login(client, world.clinician)
    url = f"/dashboard/cohorts/{world.cohort.pk}/?compare={world.cohort2.pk}"
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    from demo.benchdata import seed_bench_cohort

    with organisation_scope(world.org_a):
        seed_bench_cohort(world.org_a, cohort_name="Cohort A", n_subjects=30, seed=9, prefix="PZ", features="drawn",
                    store_files=False)
    with CaptureQueriesContext(connection) as big:
        client.get(url)
    assert len(big) == len(small)


def test_raw_unit_predictions_are_standardised_against_the_organisation(client, world):
    """Pipeline predictions in raw units (no SD deviation rows) still give a per-system profile."""
    from results.models import Prediction

    with organisation_scope(world.org_a):
        Prediction.objects.filter(body_system="renal", unit="SD").delete()
        rows = []
        for i, s in enumerate(world.cohort.subjects.all()):
            for sess in s.sessions.filter(status="done"):
                rows.append(Prediction(session=sess, phenotype="creatinine", body_system="renal", value=70 + 5 * i,
                                       lower=60 + 5 * i, upper=80 + 5 * i, unit="umol/L", model_name="predictor-x",
                                       model_version="v1"))
        Prediction.objects.bulk_create(rows)
    login(client, world.clinician)
    r = client.get(f"/dashboard/cohorts/{world.cohort.pk}/")
    renal = next(x for x in r.context["profiles"][0]["systems"] if x["system"] == "renal")
    excluded = r.context["profiles"][0]["n_qc_excluded"]
    assert excluded == 1  # the bench subject whose latest session failed QC
    assert renal["n"] == 4 - excluded and renal["reference"] == "organisation" and abs(renal["mean"]) < 2
    body = r.content.decode()
    assert "measured against all of" in body and "relative to this organisation's subjects" in body
    assert "1 left out: latest session failed quality control" in body
    assert "reference population" not in body
    # a predictor without a card is of unknown provenance: shown as demonstration-only
    assert "predictor-x" in r.content.decode()


def test_predictor_card_from_artifact(tmp_path):
    import json

    from dashboards.cards import register_artifact

    (tmp_path / "predictor.json").write_text(json.dumps({
        "arrays_sha256": "abcdef0123456789", "embedding_model_version": "gaitmae-1",
        "provenance": {"cohort": "real", "source": "HPP", "demonstration_only": False}, "n_training_subjects": 3000,
        "attribution": {"frailty": {"legs": 2, "arms": 1, "torso": 1, "head": 0}}}))
    card = register_artifact(tmp_path)
    assert (card.model_name, card.model_version) == ("predictor-abcdef012345", "gaitmae-1")
    assert not card.demonstration_only and card.attribution["frailty"]["legs"] == 0.5
    meta = json.loads((tmp_path / "predictor.json").read_text())
    meta["provenance"] = {"cohort": "synthetic", "source": "gaitcore.synth", "demonstration_only": False}
    (tmp_path / "predictor.json").write_text(json.dumps(meta))
    assert register_artifact(tmp_path).demonstration_only  # synthetic training data is never clinical


def test_every_dashboards_route_with_an_id_is_404_for_another_organisation(client, world):
    """Generated from the URLconf: every dashboards route taking an object id, GET and POST, answers 404
    to an owner of organisation B given A's ids (405 where the method does not exist)."""
    from dashboards import urls as dash_urls
    from django.urls import URLPattern
    from tenancy.actions import create_token
    from tenancy.audit import Actor
    from tenancy.invitations import create_invitation

    with organisation_scope(world.org_a):
        token, _ = create_token(Actor.system(), name="a-token", role="viewer")
        inv, _ = create_invitation(Actor.system(), role="viewer")
        membership = Membership.objects.get(user=world.clinician)
    ids = {"cohort_id": world.cohort.pk, "subject_id": world.subject.pk, "session_id": world.session.pk,
           "membership_id": membership.pk, "token_id": token.pk, "invitation_id": inv.pk}
    from tests.registry_support import registry_objects

    ids.update(registry_objects(world.org_a))  # the Models pages (registry)
    login(client, world.outsider)
    checked = 0
    for p in dash_urls.urlpatterns:
        assert isinstance(p, URLPattern)
        params = [k for k, conv in p.pattern.converters.items()]
        if not params or params == ["key"]:
            continue
        assert set(params) <= set(ids), f"route {p.pattern} takes an id this test does not know: {params}"
        path = "/dashboard/" + str(p.pattern)
        for k in params:
            path = path.replace(f"<int:{k}>", str(ids[k]))
        for method in ("get", "post"):
            status = getattr(client, method)(path).status_code
            assert status in (404, 405), (path, method, status)
            checked += 1
    assert checked >= 18  # 9 routes x 2 methods today
    with organisation_scope(world.org_a):  # and nothing changed
        token.refresh_from_db()
        membership.refresh_from_db()
        assert token.revoked_at is None and membership.role == "clinician"


def test_phenotype_table_upload_reports_rows(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, world.admin)
    csv = b"subject,ldl,hba1c\nPA-0001,3.1,5.4\nPA-0002,x,5.0\nNOBODY,1,2\n"
    r = client.post("/dashboard/manage/phenotypes/", {"name": "labs 2026", "cohort": world.cohort.pk,
                                                      "file": SimpleUploadedFile("p.csv", csv, "text/csv")})
    body = r.content.decode()
    assert 'id="phenotype-report"' in body and "labs 2026" in body
    with organisation_scope(world.org_a):
        assert AuditEvent.objects.filter(action="phenotype_table.create").exists()
    client.logout()
    login(client, world.clinician)  # clinicians may not upload phenotype tables
    assert client.get("/dashboard/manage/phenotypes/").status_code == 403


def test_dashboards_never_import_torch(tmp_path):
    """The web process renders every dashboard (PDF, replay frames, demo seeding) without torch."""
    from tests.helpers import run_python

    code = ("import django, sys; django.setup()\n"
            "import gaitsite.urls, dashboards.views, dashboards.views_manage, dashboards.pdf, dashboards.frames\n"
            "import demo.seeding, demo.benchdata, dashboards.cards\n"
            "from gaitcore.features import compute_session_features\n"
            "from gaitcore.synth.cohort import build_session\n"
            "from gaitcore.qc import session_qc\n"
            "from gaitcore.sessionfile import from_bytes\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    r = run_python(code, {"GAIT_VAR_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr


def test_pages_render_on_sqlite_with_single_values(tmp_path):
    """The embedded default (SQLite, ./run demo): a cohort whose feature and predictions have one value each
    renders (SQLite's sample standard deviation raises on a single value; the pages compute it from sums)."""
    from tests.helpers import run_python

    code = """
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from tenancy.scope import organisation_scope
from tests.platform.factories import make_member, make_org
from cohorts.models import Cohort, Subject
from recordings.models import GaitSession
from results.models import Prediction, TaskFeatures
org = make_org("sqlite-one")
user = make_member(org, "clinician", "one-clinician")
with organisation_scope(org):
    c = Cohort.objects.create(name="One")
    s = Subject.objects.create(cohort=c, external_id="ONE-1", birth_year=1970, sex="female")
    g = GaitSession.objects.create(subject=s, status="done", sha256="0" * 64)
    TaskFeatures.objects.create(session=g, task="treadmill_self_selected", values={"walking_speed_m_s": 1.2})
    Prediction.objects.create(session=g, phenotype="frailty_deviation", body_system="frailty", value=0.3,
                              lower=-0.5, upper=1.1, unit="SD", interval_level=0.9, model_name="p", model_version="v")
    Prediction.objects.create(session=g, phenotype="creatinine", body_system="renal", value=70, lower=60,
                              upper=80, unit="umol/L", interval_level=0.9, model_name="p", model_version="v")
cl = Client(HTTP_HOST="localhost")
cl.force_login(user)
for url in (f"/dashboard/cohorts/{c.pk}/", f"/dashboard/subjects/{s.pk}/", "/dashboard/"):
    r = cl.get(url)
    assert r.status_code == 200, (url, r.status_code)
print("ok")
"""
    r = run_python(code, {"GAIT_VAR_DIR": str(tmp_path)})
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]


def test_pdf_text_boxes_stay_apart_and_on_the_page_for_every_subject(client, world):
    from cohorts.models import Subject

    from tests.platform.dashboards.pdfcheck import text_box_problems

    login(client, world.clinician)
    with organisation_scope(world.org_a):
        ids = list(Subject.objects.values_list("pk", flat=True))
    assert len(ids) >= 8
    for pk in ids:
        r = client.get(f"/dashboard/subjects/{pk}/report.pdf")
        assert r.status_code == 200
        assert text_box_problems(r.content) == [], pk


def test_qc_failed_session_is_withheld_on_the_subject_report(client, world):
    from recordings.models import GaitSession

    with organisation_scope(world.org_a):
        bad = GaitSession.objects.filter(status="done", qc__passed=False).select_related("subject").first()
    login(client, world.clinician)
    r = client.get(f"/dashboard/subjects/{bad.subject_id}/")
    body = r.content.decode()
    assert 'id="withheld"' in body and "failed quality control" in body
    row = next(s for s in r.context["sessions"] if s["session"].pk == bad.pk)
    assert row["gait_age"] is None and row["withheld"].startswith("withheld: QC failed")
    assert r.context["latest"] is None or r.context["latest"].pk != bad.pk
    assert "reference population" not in body
    from pypdf import PdfReader

    pdf = client.get(f"/dashboard/subjects/{bad.subject_id}/report.pdf").content
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "withheld (QC)" in text and "failed quality control" in text


def test_subject_report_sets_every_feature_against_its_norm_or_says_there_is_none(client, world):
    """Each engineered feature of the normed task has a row; walking speed gets the published age/sex norm
    and its percentile (normal approximation, checked here by hand), every other feature "no published
    norm"; the page and the PDF carry the provenance caveat; the cohort page summarises the percentiles."""
    import math

    from dashboards.norms import BOHANNON_1997, NO_NORM, NORM_TASK, SPEED_CAVEAT, SPEED_TASK, decade
    from results.models import TaskFeatures

    from gaitcore.features.catalogue import BY_NAME

    login(client, world.clinician)
    r = client.get(f"/dashboard/subjects/{world.subject.pk}/")
    norms, latest = r.context["norms"], r.context["latest"]
    with organisation_scope(world.org_a):
        have = {f for t in TaskFeatures.objects.filter(session=latest, task__in=(NORM_TASK, SPEED_TASK))
                for f, v in t.values.items()
                if isinstance(v, int | float) and f in BY_NAME and (t.task == NORM_TASK or f == "walking_speed_m_s")}
    assert {n["feature"] for n in norms} == have and len(norms) > 10
    speed = next(n for n in norms if n["feature"] == "walking_speed_m_s")
    others = [n for n in norms if n["feature"] != "walking_speed_m_s"]
    assert all(n["source"] == NO_NORM and n["percentile"] is None and n["mean"] is None for n in others)
    age = r.context["sessions"][-1]["age"]
    if world.subject.sex in ("male", "female") and decade(age) is not None:
        assert speed["source"] == BOHANNON_1997 and speed["group"].startswith(world.subject.sex)
        z = (speed["value"] - speed["mean"]) / speed["sd"]
        assert speed["percentile"] == pytest.approx(50 * (1 + math.erf(z / math.sqrt(2))))
    body = r.content.decode()
    from django.utils.html import escape

    assert escape(SPEED_CAVEAT) in body and body.count('class="no-norm"') == len(others)
    from pypdf import PdfReader

    pdf = client.get(f"/dashboard/subjects/{world.subject.pk}/report.pdf").content
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Only the table's extremes (127.2 cm/s" in text
    cohort = client.get(f"/dashboard/cohorts/{world.cohort.pk}/")
    sn = cohort.context["profiles"][0]["speed_norm"]
    assert sn["n"] >= 1 and 0 <= sn["median"] <= 100 and sn["source"] == BOHANNON_1997  # percentiles computed
    assert 'id="speed-norm"' in cohort.content.decode()
