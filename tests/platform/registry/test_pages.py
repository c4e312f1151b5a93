"""The Models pages: predictor versions with CV metrics per target and the winning representation, the job
page and its live status, promotion through the gate from the page; another organisation's job is 404."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import TestCase
from tenancy.models import Membership, Role
from tenancy.scope import organisation_scope

from tests.platform.factories import make_org
from tests.registry_support import shipped_encoder

PASSWORD = "pw-123456789"


class ModelPagesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        from registry.models import JobLog, PredictorVersion, TrainingJob

        cls.org, cls.other = make_org("pages-a"), make_org("pages-b")
        User = get_user_model()
        cls.users = {}
        for org, role in ((cls.org, Role.ADMIN), (cls.org, Role.VIEWER), (cls.other, Role.OWNER)):
            u = User.objects.create_user(f"{org.slug}-{role}", password=PASSWORD)
            with organisation_scope(org):
                Membership.objects.create(user=u, role=role)
            cls.users[(org.slug, role)] = u
        enc = shipped_encoder()
        with organisation_scope(cls.org):
            cls.job = TrainingJob.objects.create(kind="finetune-heads", state="running", config={}, config_hash="c" * 64,
                                                 encoder=enc, snapshot={"sessions": [1, 2]}, snapshot_hash="s" * 64,
                                                 progress={"stage": "cv", "fold": 2, "folds": 5, "target": "age@all",
                                                           "done": 3, "total": 12, "eta_s": 9.0})
            JobLog.objects.create(job=cls.job, message="snapshot ssssssssssss: 180 training sessions")
            cls.v = PredictorVersion.objects.create(
                number=1, name="pages-a/heads-v1", encoder=enc, snapshot_hash="s" * 64, code_version="t", config={},
                config_hash="c" * 64, eval_set_hash="e" * 64, eval_metrics={"age": {"r2": 0.41, "n": 40}},
                cv_metrics={"age@all": {"r": {"mean": 0.6789, "sd": None}, "r2": {"mean": 0.4567, "sd": None}}},
                representation={"age@all": {"chosen": "concat", "outer_fold_wins": {}}}, artifact_key="x",
                arrays_sha256="a" * 64, job=cls.job)

    def login(self, slug, role):
        from tests.platform.factories import verified_login

        verified_login(self.client, self.users[(slug, role)], PASSWORD)  # owners/admins: with their TOTP code

    def test_predictor_list_shows_cv_metrics_per_target_and_the_representation(self):
        self.login("pages-a", Role.VIEWER)
        r = self.client.get("/dashboard/models/")
        self.assertEqual(r.status_code, 200)
        body = r.content.decode()
        for text in ("pages-a/heads-v1", "age@all", "concat", "0.457", "0.679"):
            self.assertIn(text, body)
        self.assertNotIn("Promote to champion", body)  # viewers cannot
        r = self.client.get(f"/dashboard/models/jobs/{self.job.pk}/status.json")
        self.assertEqual(r.json()["progress"]["fold"], 2)
        self.assertIn("180 training sessions", r.json()["logs"][0]["message"])
        self.assertEqual(self.client.get(f"/dashboard/models/jobs/{self.job.pk}/").status_code, 200)

    def test_admin_promotes_from_the_page_and_another_organisation_sees_nothing(self):
        from registry.models import Alias

        self.login("pages-a", Role.ADMIN)
        r = self.client.post(f"/dashboard/models/versions/{self.v.pk}/promote/")
        self.assertEqual(r.status_code, 302)
        with organisation_scope(self.org):
            self.assertEqual(Alias.objects.get(name="champion").predictor_id, self.v.pk)
        self.client.logout()
        self.login("pages-b", Role.OWNER)
        for url in (f"/dashboard/models/jobs/{self.job.pk}/", f"/dashboard/models/jobs/{self.job.pk}/status.json"):
            self.assertEqual(self.client.get(url).status_code, 404, url)
        self.assertEqual(self.client.post(f"/dashboard/models/versions/{self.v.pk}/promote/").status_code, 404)
        self.assertNotIn(b"pages-a/heads-v1", self.client.get("/dashboard/models/").content)
