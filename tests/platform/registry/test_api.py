"""The registry API without workers: who may start, cancel, promote and roll back; what a snapshot may
hold; the gate's verdicts; alias events are append-only and every move is audited."""

from __future__ import annotations

from unittest import mock

from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.registry_support import seed_organisation


class RegistryAPITest(APITestBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        from cohorts.actions import import_phenotype_table
        from tenancy.audit import Actor

        cls.mine = seed_organisation(cls.org, 40, no_consent=5)
        cls.theirs = seed_organisation(cls.other, 25, first=700, prefix="B")
        with cls.scope_of(cls.org):
            cls.table = import_phenotype_table(Actor.system(), name="labels", cohort=cls.mine["cohort"],
                                               data=cls.mine["csv"].encode())
        with cls.scope_of(cls.other):
            cls.their_table = import_phenotype_table(Actor.system(), name="labels", cohort=cls.theirs["cohort"],
                                                     data=cls.theirs["csv"].encode())

    @staticmethod
    def scope_of(org):
        from tenancy.scope import organisation_scope

        return organisation_scope(org)

    def setUp(self):
        self.sent = []
        p = mock.patch("registry.actions.send_task", side_effect=lambda *a: self.sent.append(a))
        p.start()
        self.addCleanup(p.stop)

    def start(self, role=Role.RESEARCHER, **body):
        with self.captureOnCommitCallbacks(execute=True):
            return self.client_for(role).post(self.url("trainingjob-list"), {"label_table": self.table.pk, **body},
                                              format="json")

    def test_researchers_and_admins_start_jobs_viewers_and_clinicians_cannot(self):
        for role in (Role.VIEWER, Role.CLINICIAN):
            self.assertError(self.start(role), 403)
        r = self.start(Role.RESEARCHER)
        self.assertEqual(r.status_code, 201, r.content)
        self.assertEqual(r.json()["state"], "queued")
        self.assertEqual(self.sent, [("workers.training.dispatch", [r.json()["id"]], "training")])
        self.assertEqual(self.start(Role.ADMIN).status_code, 201)
        self.assertIn("training_job.create", self.audit_actions())

    def test_a_snapshot_holds_only_this_organisations_consenting_subjects(self):
        from registry.models import TrainingJob

        job = TrainingJob.unscoped.get(pk=self.start().json()["id"])
        sessions = {r["session"] for r in job.snapshot["sessions"]}
        consenting = {s.pk for s in self.mine["sessions"][:40]}
        self.assertEqual(sessions, consenting)
        self.assertFalse(sessions & {s.pk for s in self.theirs["sessions"]})
        self.assertEqual(set(job.snapshot["labels"]), {str(s.pk) for s in self.mine["subjects"][:40]})
        self.assertEqual(job.snapshot["label_table"]["id"], self.table.pk)
        self.assertEqual(len(job.snapshot_hash), 64)
        # another organisation's label table is not found from here
        r = self.client_for(Role.RESEARCHER).post(self.url("trainingjob-list"), {"label_table": self.their_table.pk},
                                                  format="json")
        self.assertError(r, 400)

    def test_a_broker_that_is_down_leaves_the_job_queued_not_the_request_failed(self):
        with mock.patch("registry.actions.send_task", side_effect=ConnectionError("broker down")):
            r = self.start()
        self.assertEqual(r.status_code, 201, r.content)
        self.assertEqual(r.json()["state"], "queued")

    def test_bad_config_is_refused_with_the_reason(self):
        self.assertError(self.start(config={"representations": ["pixels"]}), 400)
        self.assertError(self.start(config={"seeds": 99}), 400)
        self.assertError(self.start(config={"bogus": 1}), 400)

    def test_cancel_of_a_queued_job_is_immediate_and_final_jobs_refuse_it(self):
        job = self.start().json()
        url = self.url("trainingjob-cancel", pk=job["id"])
        self.assertError(self.client_for(Role.VIEWER).post(url), 403)
        r = self.client_for(Role.RESEARCHER).post(url)
        self.assertEqual(r.json()["state"], "cancelled")
        self.assertEqual(r.json()["reason"], "cancelled before it started")
        self.assertError(self.client_for(Role.RESEARCHER).post(url), 400)

    def _version(self, number, eval_metrics, eval_hash="e" * 64, comparisons=None):
        from registry.models import PredictorVersion

        from tests.registry_support import shipped_encoder

        with self.scope():
            return PredictorVersion.objects.create(
                number=number, name=f"alpha/heads-v{number}", encoder=shipped_encoder(), snapshot_hash="s" * 64,
                code_version="t", config={}, config_hash="c" * 64, eval_set_hash=eval_hash, eval_metrics=eval_metrics,
                comparisons=comparisons or {}, artifact_key="x", arrays_sha256="a" * 64)

    def test_gate_refuses_a_worse_candidate_admin_override_needs_a_reason_rollback_restores(self):
        from registry.models import AliasEvent

        v1 = self._version(1, {"age": {"r2": 0.5}, "bmi": {"r2": 0.4}})
        v2 = self._version(2, {"age": {"r2": 0.3}, "bmi": {"r2": 0.41}})
        v3 = self._version(3, {"age": {"r2": 0.2}}, eval_hash="f" * 64)  # another evaluation set, no comparison
        admin = self.client_for(Role.ADMIN)
        promote = lambda v, **b: admin.post(self.url("predictorversion-promote", pk=v.pk), b, format="json")  # noqa: E731
        self.assertError(self.client_for(Role.RESEARCHER).post(self.url("predictorversion-promote", pk=v1.pk)), 403)
        self.assertEqual(promote(v1).status_code, 200)
        r = promote(v2)
        err = self.assertError(r, 400)
        self.assertIn("age: r2 0.300 < champion 0.500", str(err))
        self.assertError(promote(v3), 400)
        r = promote(v2, override_reason="accepted by the clinical lead")
        self.assertEqual(r.json()["action"], "override")
        self.assertFalse(r.json()["gate"]["passed"])
        with self.scope():
            champion = self.client_for().get(self.url("alias-list")).json()["results"][0]
            self.assertEqual(champion["predictor"], v2.pk)
            r = admin.post(self.url("alias-rollback", pk=champion["id"]), {"reason": "bad week"}, format="json")
            self.assertEqual(r.json()["to_predictor"], v1.pk)
            ev = AliasEvent.objects.order_by("id").last()
            with self.assertRaises(RuntimeError):
                ev.save()
            with self.assertRaises(RuntimeError):
                ev.delete()
        self.assertEqual([a for a in self.audit_actions() if a.startswith("alias.")],
                         ["alias.promote", "alias.override", "alias.rollback"])
        # nothing before v1: a second rollback says so
        self.assertError(admin.post(self.url("alias-rollback", pk=champion["id"]), {}, format="json"), 400)

    def test_repredict_queues_the_organisations_processed_sessions_with_the_champion(self):
        v1 = self._version(1, {"age": {"r2": 0.5}})
        admin = self.client_for(Role.ADMIN)
        admin.post(self.url("predictorversion-promote", pk=v1.pk), {}, format="json")
        alias = admin.get(self.url("alias-list")).json()["results"][0]
        self.assertError(self.client_for(Role.RESEARCHER).post(self.url("alias-repredict", pk=alias["id"])), 403)
        with self.captureOnCommitCallbacks(execute=True):
            r = admin.post(self.url("alias-repredict", pk=alias["id"]))
        self.assertEqual(r.status_code, 202)
        self.assertEqual(r.json()["queued"], 45)
        self.assertEqual({a[0] for a in self.sent}, {"workers.pipeline.predict"})
        self.assertEqual({a[1][0] for a in self.sent}, {s.pk for s in self.mine["sessions"]})
        self.assertEqual({a[3]["backfill"] for a in self.sent}, {True})  # done sessions: lease, status kept
