"""``manage.py seed_demo`` end to end on a tiny demo: uploads through the API's actions, the Celery
pipeline (eager, in this process) with a tiny checkpoint and a demo predictor built by ``gaitfm
demo-predictor``; predictions come from that predictor and carry the demonstration mark; failures and QC
warnings are the pipeline's own; a second run creates nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings
from tenancy.models import Organisation
from tenancy.scope import organisation_scope

from tests.platform.dashboards.seed import pipeline_models

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return pipeline_models(tmp_path_factory.mktemp("demo-models"))


def test_seed_demo_processes_the_demo_through_the_pipeline(models, client, monkeypatch, capsys):
    import json

    from cohorts.models import Cohort
    from dashboards.models import PredictorCard
    from recordings.models import GaitSession, Upload
    from results.models import CohortSummary, Embedding, Prediction, QCReport, TaskFeatures

    ckpt, predictor = models
    monkeypatch.delenv("GAIT_PREDICTOR", raising=False)
    call_command("demo_setup", "--password", "pw-123456789")
    org = Organisation.objects.get(slug="demo-clinic")
    with override_settings(MODEL_CHECKPOINT=str(ckpt), INFERENCE_BACKEND="inprocess"):
        # uploads only, then the worker side's inline pipeline in this process (``seed_demo --process inline``
        # runs the same function as ``python -m workers.inline``, which cannot see the test database)
        call_command("seed_demo", "--predictor", str(predictor), "--process", "none", "--subjects", "3,2")
        from demo.seeding import demo_session_ids, unfinished

        from workers.inline import process_inline

        with organisation_scope(org):
            process_inline(unfinished(demo_session_ids()), org.pk)
    meta = json.loads((predictor / "predictor.json").read_text())
    name = f"predictor-{meta['arrays_sha256'][:12]}"
    with organisation_scope(org):
        assert set(Cohort.objects.values_list("name", flat=True)) >= {"Synthetic cohort A", "Synthetic cohort B"}
        sessions = GaitSession.objects.filter(upload__idempotency_key__startswith="demo:")
        n = sessions.count()
        assert n >= 9 and Upload.objects.filter(idempotency_key__startswith="demo:", status="complete").count() == n
        done = sessions.filter(status="done")
        failed = dict(sessions.filter(status="failed").values_list("n_frames", "status_reason"))
        # the pipeline's own reasons: a 20-frame recording, a 7-s walk
        assert len(failed) == 2
        assert "only 20 frames" in failed[20]
        assert any("long enough to analyse" in r for r in failed.values())
        # every processed session has QC, features, embeddings and predictions of the demo predictor
        for s in done:
            assert QCReport.objects.filter(session=s).exists() and TaskFeatures.objects.filter(session=s).exists()
            assert Embedding.objects.filter(session=s, task="ensemble").exists()
            preds = Prediction.objects.filter(session=s)
            assert preds.filter(phenotype="gait_age").exists() and preds.count() >= 20
            assert set(preds.values_list("model_name", "model_version").distinct()) == {(name, meta["embedding_model_version"])}
        # units from the artifact; a T-score in SD units is a phenotype, not a per-system deviation row
        assert set(Prediction.objects.filter(phenotype="bmi").values_list("unit", flat=True)) == {"kg/m2"}
        assert set(Prediction.objects.filter(phenotype="spine_bmd_tscore").values_list("unit", flat=True)) == {"SD"}
        # degraded tracking -> QC warnings (one beyond 50 % missing fails QC)
        missing = [q.metrics["fraction_missing"] for q in QCReport.objects.filter(session__in=done)]
        assert sum(m > 0.2 for m in missing) == 3 and any(m > 0.5 for m in missing)
        assert QCReport.objects.filter(passed=False).exists()
        # QC per task: every recorded task of every processed session has its verdict and reason
        for q in QCReport.objects.filter(session__in=done).select_related("session"):
            assert [t["task"] for t in q.tasks] == q.session.tasks, q.session_id
            assert all(t["passed"] == (not t["issues"]) and t["n_frames"] > 0 for t in q.tasks)
        bad_qc = QCReport.objects.select_related("session").get(session__in=done, passed=False)
        assert any("joint samples are missing" in "; ".join(t["issues"]) for t in bad_qc.tasks)
        # longitudinal subjects and cohort summaries
        assert CohortSummary.objects.filter(model_version=meta["embedding_model_version"]).count() == 2
        card = PredictorCard.objects.get(model_name=name)
        assert card.demonstration_only and card.cohort_kind == "synthetic" and card.attribution
        counts = (n, Prediction.objects.count())
        subject = done.order_by("-recorded_at").first().subject
        cohort = Cohort.objects.get(name="Synthetic cohort A")
    # idempotent: a second run uploads and processes nothing new
    call_command("seed_demo", "--predictor", str(predictor), "--process", "none", "--subjects", "3,2")
    with organisation_scope(org):
        assert not unfinished(demo_session_ids())
        assert (GaitSession.objects.count(), Prediction.objects.count()) == counts
    # a session left unfinished by an interrupted start is queued again for the worker
    with organisation_scope(org):
        GaitSession.objects.filter(pk=done.exclude(subject=subject).order_by("pk").first().pk).update(status="uploaded")
    capsys.readouterr()
    call_command("seed_demo", "--predictor", str(predictor), "--process", "worker", "--timeout", "0",
                 "--subjects", "3,2")
    assert "1 demo sessions were left unfinished by an earlier start: queued again" in capsys.readouterr().err
    # the pages say which predictor made the predictions, on what cohort, and that it is demonstration-only
    from django.contrib.auth import get_user_model

    from tests.platform.factories import verified_login

    verified_login(client, get_user_model().objects.get(username="demo"))
    for url in (f"/dashboard/cohorts/{cohort.pk}/", f"/dashboard/subjects/{subject.pk}/"):
        body = client.get(url).content.decode()
        assert "Demonstration only — not for clinical use" in body, url
        assert name in body and "gaitcore.synth" in body, url
    # the subject report's QC column: the session's verdict, then each task's with its reason
    body = client.get(f"/dashboard/subjects/{bad_qc.session.subject_id}/").content.decode()
    assert "Quality control: session · per task" in body and 'class="task-qc failed"' in body
    assert body.count('class="task-qc ') >= len(bad_qc.tasks)
    r = client.get(f"/dashboard/subjects/{subject.pk}/")
    systems = {d.body_system for d in r.context["deviations"]}
    assert len(systems) == 18 and "bone_density" in systems and r.context["attribution"]


def test_demo_setup_restart_keeps_the_login_and_the_printed_token(tmp_path, settings, capsys):
    """A second start prints the same password and token, and both still work."""
    import re

    from django.contrib.auth import authenticate
    from tenancy.models import APIToken, hash_token

    settings.VAR_DIR = tmp_path
    call_command("demo_setup")
    first = capsys.readouterr().out
    call_command("demo_setup")
    second = capsys.readouterr().out
    pw = re.search(r"Login: demo / (\S+)", first).group(1)
    token = re.search(r"(gait_\S+)", first).group(1)
    assert pw == re.search(r"Login: demo / (\S+)", second).group(1)
    assert token == re.search(r"(gait_\S+)", second).group(1)
    assert authenticate(username="demo", password=pw) is not None
    assert APIToken.unscoped.get(key_hash=hash_token(token)).revoked_at is None
    assert (tmp_path / "demo-login.json").stat().st_mode & 0o077 == 0
    org = Organisation.objects.get(slug="demo-clinic")
    from cohorts.models import Cohort

    with organisation_scope(org):
        assert Cohort.objects.get(name__startswith="Your uploads").description.startswith("subjects DEMO-001")
