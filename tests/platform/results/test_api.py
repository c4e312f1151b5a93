"""Results (QC, features, embeddings, predictions) and the streamed cohort exports."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.factories import seed_everything


class ResultsAPITest(APITestBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.objs = seed_everything(cls.org, "r", n_sessions=3)
        seed_everything(cls.other, "o", n_sessions=2)

    def test_results_filter_by_session_and_phenotype(self):
        session = self.objs["gaitsession"][0]
        client = self.client_for(Role.VIEWER)
        preds = client.get(self.url("prediction-list"), {"session": session.pk, "phenotype": "age"}).json()
        self.assertEqual(preds["count"], 1)
        p = preds["results"][0]
        self.assertEqual((p["lower"], p["value"], p["upper"], p["model_version"]), (45.0, 50.0, 55.0, "t1"))
        emb = client.get(self.url("embedding-list"), {"session": session.pk}).json()["results"][0]
        self.assertEqual((emb["task"], emb["dim"]), ("walk_in_place", 3))
        qc = client.get(self.url("qcreport-list"), {"session": session.pk}).json()["results"][0]
        self.assertTrue(qc["passed"])  # the session's verdict (the gate) and each task's, with its reason
        self.assertEqual([(t["task"], t["passed"], t["issues"]) for t in qc["tasks"]],
                         [("walk_in_place", False, ["3.0 s long, under the 10 s a model window needs"])])
        feats = client.get(self.url("taskfeatures-list"), {"cohort": self.objs["cohort"][0].pk}).json()
        self.assertEqual(feats["count"], 3)

    def fail_qc(self, session):
        from results.models import QCReport
        from tenancy.scope import organisation_scope

        with organisation_scope(self.org):
            QCReport.objects.filter(session=session).update(passed=False, issues=["61% of joint samples are missing"])

    def test_predictions_carry_the_qc_verdict_and_recording_date_and_are_withheld_when_qc_failed(self):
        bad, good = self.objs["gaitsession"][0], self.objs["gaitsession"][1]
        self.fail_qc(bad)
        client = self.client_for(Role.VIEWER)
        p = client.get(self.url("prediction-list"), {"session": bad.pk}).json()["results"][0]
        self.assertEqual((p["value"], p["lower"], p["upper"], p["qc_passed"]), (None, None, None, False))
        self.assertIn("QC failed (61% of joint samples are missing)", p["withheld"])
        self.assertEqual(p["display_name"], "Age (predicted from gait)")
        self.assertEqual((p["unit_ucum"], p["loinc"]), ("a", "30525-0"))
        self.assertTrue(p["recorded_at"])
        q = client.get(self.url("prediction-list"), {"session": good.pk}).json()["results"][0]
        self.assertEqual((q["value"], q["qc_passed"], q["withheld"]), (50.0, True, ""))
        rows = list(csv.DictReader(io.StringIO(b"".join(self.export("predictions", "csv").streaming_content).decode())))
        by = {int(r["session"]): r for r in rows}
        self.assertEqual((by[bad.pk]["value"], by[bad.pk]["qc_passed"]), ("", "False"))
        self.assertIn("QC failed", by[bad.pk]["withheld"])
        self.assertEqual((by[good.pk]["value"], by[good.pk]["qc_passed"], by[good.pk]["withheld"]), ("50.0", "True", ""))
        self.assertTrue(all(r["recorded_at"] for r in rows))
        feats = list(csv.DictReader(io.StringIO(b"".join(self.export("features", "csv").streaming_content).decode())))
        self.assertEqual({r["qc_passed"] for r in feats if int(r["session"]) == bad.pk}, {"False"})

    def export(self, kind, file_format, role=Role.RESEARCHER):
        return self.client_for(role).get(self.url(f"export-{kind}", pk=self.objs["cohort"][0].pk),
                                         {"file_format": file_format})

    def test_csv_exports_stream(self):
        r = self.export("predictions", "csv")
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.streaming)
        rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
        self.assertEqual(len(rows), 3)
        self.assertEqual(rows[0]["phenotype"], "age")
        self.assertEqual(rows[0]["subject"], "SUBJ-r")
        feats = list(csv.DictReader(io.StringIO(b"".join(self.export("features", "csv").streaming_content).decode())))
        self.assertEqual(len(feats), 6)  # 3 sessions x 2 features, long format
        emb = list(csv.reader(io.StringIO(b"".join(self.export("embeddings", "csv").streaming_content).decode())))
        self.assertEqual(emb[0][-3:], ["e0000", "e0001", "e0002"])
        self.assertIn("export.predictions", self.audit_actions())

    def test_parquet_exports_stream(self):
        for kind, n in (("predictions", 3), ("features", 6), ("embeddings", 3)):
            r = self.export(kind, "parquet")
            self.assertEqual(r.status_code, 200)
            table = pq.read_table(io.BytesIO(b"".join(r.streaming_content)))
            self.assertEqual(table.num_rows, n, kind)
        self.assertEqual(table.column("e0001").to_pylist(), [0.2, 0.2, 0.2])

    def test_subjects_without_research_consent_are_not_exported(self):
        from cohorts.models import Subject

        with self.scope():
            Subject.objects.filter(pk=self.objs["subject"][0].pk).update(consent_research=False)
        for kind in ("predictions", "features", "embeddings"):
            body = b"".join(self.export(kind, "csv").streaming_content).decode()
            self.assertEqual(len(body.strip().splitlines()), 1, kind)  # the header only

    def test_exports_need_the_export_permission_and_a_known_format(self):
        self.assertError(self.export("predictions", "csv", role=Role.VIEWER), 403)
        self.assertError(self.export("predictions", "xlsx"), 400, "unknown_file_format")
