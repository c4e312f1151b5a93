"""The dashboards in real headless Chromium (Debian's ``chromium``, driven by Playwright's Python package;
never ``playwright install``). Logs in as an org admin and as a clinician, opens every page, checks that
every chart drew data points, that the console stayed clean, that another organisation's member gets
404, and saves a screenshot of each page under ``var/test-artifacts/dashboards/`` (1280 px, plus tablet
width for the main pages).

Needs ``apt-get install -y chromium`` (CI: .ci/run installs it); skipped with that instruction otherwise.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.platform.dashboards.seed import (
    PASSWORD,
    admin_urls,
    build_world,
    object_urls,
    page_urls,
    pipeline_models,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CHROMIUM = os.environ.get("GAIT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "test-artifacts" / "dashboards"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# charts each page must draw (canvas id -> data attribute set once drawn)
CHARTS = {
    "cohort-profile": ["chart-systems", "chart-gaitage", "chart-gap", "chart-features"],
    "cohort-compare": ["chart-systems", "chart-gaitage", "chart-gap", "chart-features"],
    "subject-report": ["chart-longitudinal", "chart-speed", "chart-deviations", "chart-attribution"],
}
TABLET = ("home", "cohort-profile", "subject-report")


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip("Chromium is missing: apt-get install -y chromium (the tests never download a browser)")
    pw_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    with pw_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


class Tab:
    """One browser context (one logged-in user) that records console errors and failed requests."""

    def __init__(self, browser, base: str, width: int = 1280, height: int = 900):
        self.ctx = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.ctx.new_page()
        self.base, self.errors = base, []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def login(self, user):
        from django_otp.plugins.otp_totp.models import TOTPDevice
        from tenancy.logins import needs_second_factor

        from tests.platform.factories import unused_totp_code

        self.page.goto(self.base + "/accounts/login/?next=/dashboard/")
        self.page.fill("#id_username", user.username)
        self.page.fill("#id_password", PASSWORD)
        if needs_second_factor(user):  # owners and admins: the code of their authenticator app
            device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": "phone"})
            self.page.fill("#id_otp_token", unused_totp_code(device))
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base + "/dashboard/")  # exactly (the login page's ?next=/dashboard/ would match a glob)

    def open(self, path: str):
        resp = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return resp

    def shot(self, name: str):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self):
        self.ctx.close()


def check_charts(tab: Tab, name: str) -> None:
    for cid in CHARTS.get(name, []):
        el = tab.page.locator(f"canvas#{cid}")
        assert el.count() == 1, f"{name}: no canvas #{cid}"
        points = el.get_attribute("data-points")
        assert points is not None and int(points) > 0, f"{name}: chart {cid} drew no data points"
        box = el.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, f"{name}: chart {cid} has no size"


def assert_no_sideways_scroll(tab: Tab, name: str) -> None:
    overflow = tab.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name}: the page scrolls sideways by {overflow}px"


CODE_NAMES = ("Bmi", "Phq9", "Gad7", "Il6", "Met cortisol", "Met urate", "Cgm time above 140", "Gait age gap corrected",
              "Nmr ", "Mb shannon", "Hba1c", "Egfr", " in unit z")


def assert_clinical_wording(tab: Tab, name: str) -> None:
    """No code-name label and no claim of a "reference population" on any page."""
    from gaitcore.phenotypes import CATALOGUE

    text = tab.page.inner_text("body")
    for bad in CODE_NAMES:
        assert bad not in text, f"{name}: code-name label {bad!r}"
    for c in CATALOGUE:  # a code name turned into words ("Spine bmd tscore") is not a label
        raw = c.name.replace("_", " ").capitalize()
        if "_" in c.name and raw != c.display:
            assert raw not in text, f"{name}: code-name label {raw!r}"
    assert "reference population" not in text, f"{name}: names a reference population"


def check_trust(tab: Tab, w, base: str) -> None:
    """The QC-failed, longitudinal and failed subjects of the demo path: QC-failed results withheld, the
    deviations' reference named as it is, every subject's PDF laid out, every session's FHIR Bundle valid."""
    from cohorts.models import Subject
    from recordings.models import GaitSession
    from results.models import Prediction
    from tenancy.scope import organisation_scope

    from tests.platform.dashboards.pdfcheck import text_box_problems
    from tests.platform.results.test_fhir import check_session_bundle

    with organisation_scope(w.org_a):
        bad = GaitSession.objects.filter(status="done", qc__passed=False).select_related("subject").get()
        failed = GaitSession.objects.filter(status="failed").select_related("subject").first()
        trained = Prediction.objects.filter(reference_sd__isnull=False).exists()
        subjects = list(Subject.objects.all())
        sessions = list(GaitSession.objects.filter(status="done").select_related("subject", "qc"))
        bad_values = {f"{p.value:.1f}" for p in Prediction.objects.filter(session=bad) if p.phenotype == "gait_age"}
    assert trained, "the demo predictor carries reference statistics of its training cohort"
    # the QC-failed subject: withheld, with the reason; its gait age nowhere on the page
    tab.open(f"/dashboard/subjects/{bad.subject_id}/")
    assert tab.page.locator("#withheld").count() == 1
    text = tab.page.inner_text("body")
    assert "failed quality control" in text and "joint samples are missing" in text
    row = tab.page.locator("#table-sessions tr.withheld")
    assert row.count() == 1 and "withheld: QC failed" in row.inner_text()
    assert_clinical_wording(tab, "qc-failed-subject")
    tab.shot("admin-subject-qc-failed")
    # the cohort page says how many subjects it left out
    tab.open(f"/dashboard/cohorts/{w.cohort.pk}/")
    assert "left out: latest session failed quality control" in tab.page.inner_text("body")
    assert "training cohort" in tab.page.locator("#cohort-reference").inner_text()
    # the longitudinal subject: one gait-age figure with its note, the reference named
    tab.open(f"/dashboard/subjects/{w.subject.pk}/")
    assert tab.page.locator("#gait-age").count() == 1 and tab.page.locator("#gait-age-note").inner_text()
    assert "training cohort" in tab.page.locator("#deviation-reference").inner_text()
    assert tab.page.locator("#table-norms tbody tr").count() >= 3
    assert_clinical_wording(tab, "longitudinal-subject")
    # the subject with a failed upload: the pipeline's reason
    tab.open(f"/dashboard/subjects/{failed.subject_id}/")
    assert failed.status_reason in tab.page.inner_text("body")
    assert_clinical_wording(tab, "failed-subject")
    for s in subjects:
        pdf = tab.page.request.get(base + f"/dashboard/subjects/{s.pk}/report.pdf")
        assert pdf.status == 200 and text_box_problems(pdf.body()) == [], s.external_id
    for s in sessions:
        r = tab.page.request.get(base + f"/dashboard/sessions/{s.pk}/fhir.json")
        assert r.status == 200
        check_session_bundle(r.json(), s.subject.external_id, qc_passed=s.pk != bad.pk)
    assert bad_values  # the QC-failed session has a stored gait age, shown nowhere
    tab.open(f"/dashboard/subjects/{bad.subject_id}/")
    gait_ages = tab.page.locator("#table-sessions tr.withheld td:nth-child(4)").inner_text()
    assert not any(v in gait_ages for v in bad_values)


def test_dashboards_in_chromium(browser, live_server, tmp_path):
    # organisation A's cohorts go through the demo's real path: uploads, then the Celery pipeline with a tiny
    # checkpoint and a demo predictor fitted on it (``gaitfm demo-predictor``, tiny sizes)
    w = build_world(n_subjects=6, pipeline=pipeline_models(tmp_path))
    base = live_server.url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # --- org admin: every page, charts, screenshots -------------------------------------------------
    tab = Tab(browser, base)
    tab.login(w.admin)
    for name, path in {**page_urls(w), **admin_urls()}.items():
        resp = tab.open(path)
        assert resp.status == 200, (name, resp.status)
        check_charts(tab, name)
        assert_no_sideways_scroll(tab, name)
        assert_clinical_wording(tab, name)
        if name == "subject-report":
            # (selectors, not wait_for_function: the page's CSP forbids evaluating strings, as it should)
            tab.page.locator('#replay[data-frames]:not([data-frames="0"])').wait_for(state="attached", timeout=15000)
            tab.page.wait_for_timeout(600)  # a few replay frames
            assert tab.page.locator("text=Demonstration only — not for clinical use.").count() >= 1
        if name.startswith("cohort-") and name != "cohort-subjects" and name != "cohort-empty":
            assert tab.page.locator(".demo.provenance").count() >= 1
        tab.shot(f"admin-{name}")
    # the home page's recent sessions refresh on their own
    tab.open("/dashboard/")
    tab.page.locator('#refreshed[data-polls]:not([data-polls="0"])').wait_for(state="attached", timeout=10000)
    # management flows: a token is shown once
    tab.open("/dashboard/manage/tokens/")
    tab.page.fill("#id_name", "station-1")
    tab.page.select_option("#id_role", "clinician")
    tab.page.click("form.stack button[type=submit]")
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("#new-token").inner_text().startswith("gait_")
    tab.shot("admin-tokens-created")
    tab.open("/dashboard/manage/tokens/")
    assert tab.page.locator("#new-token").count() == 0
    # the PDF export answers a PDF
    pdf = tab.page.request.get(base + f"/dashboard/subjects/{w.subject.pk}/report.pdf")
    assert pdf.status == 200 and pdf.body()[:5] == b"%PDF-"
    check_trust(tab, w, base)
    assert not tab.errors, f"console errors as admin: {tab.errors}"
    tab.close()

    # --- tablet width -----------------------------------------------------------------------------------
    tab = Tab(browser, base, width=820, height=1180)
    tab.login(w.admin)
    for name, path in {**page_urls(w), **admin_urls()}.items():
        tab.open(path)
        check_charts(tab, name)
        assert_no_sideways_scroll(tab, name)
        if name in TABLET or name in admin_urls():
            tab.shot(f"tablet-{name}")
    assert not tab.errors, f"console errors at tablet width: {tab.errors}"
    tab.close()

    # --- clinician: every page, no management beyond subjects -----------------------------------------------
    tab = Tab(browser, base)
    tab.login(w.clinician)
    for name, path in page_urls(w).items():
        resp = tab.open(path)
        assert resp.status == 200, (name, resp.status)
        check_charts(tab, name)
        tab.shot(f"clinician-{name}")
    assert tab.open("/dashboard/manage/subjects/").status == 200
    tab.shot("clinician-subjects")
    assert not tab.errors, f"console errors as clinician: {tab.errors}"
    assert tab.open("/dashboard/manage/members/").status == 403  # role, not existence
    tab.shot("clinician-members-403")
    tab.close()

    # --- a member of another organisation: 404 on A's URLs ------------------------------------------------
    tab = Tab(browser, base)
    tab.login(w.outsider)
    for path in object_urls(w):
        resp = tab.open(path)
        assert resp.status == 404, (path, resp.status)
    tab.open("/dashboard/")
    assert tab.page.locator("text=Cohort A").count() == 0
    tab.shot("outsider-home")
    tab.close()
