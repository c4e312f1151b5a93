"""Subject erasure (GDPR art. 17): DELETE /subjects/{id}/ removes everything recorded of the subject,
keeps a pseudonymous audit record and answers with a report that proves it."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

from cohorts.models import Cohort, Subject
from django.test import override_settings
from recordings.models import GaitSession, Upload
from results.models import CohortSummary, Embedding, Prediction, QCReport, TaskFeatures
from tenancy.models import AuditEvent, Role

from tests.platform.base import APITestBase
from tests.platform.factories import session_file_bytes, sha256


class SubjectErasureTest(APITestBase):
    def setUp(self):
        self.media = Path(tempfile.mkdtemp(prefix="gait-erase-"))
        self._override = override_settings(STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(self.media)}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        })
        self._override.enable()
        self.addCleanup(self._override.disable)
        super().setUp()
        with self.scope():
            self.cohort = Cohort.objects.create(name="main")
            self.subject = Subject.objects.create(cohort=self.cohort, external_id="S-1", birth_year=1970, sex="male")
            self.neighbour = Subject.objects.create(cohort=self.cohort, external_id="S-10", birth_year=1980, sex="female")
        self.api = self.client_for(Role.ADMIN)

    def upload(self, subject, seed: int, complete: bool = True) -> str:
        data = session_file_bytes(seed=seed, subject=subject.external_id)
        body = {"subject": subject.pk, "format": "gait-session", "size": len(data), "sha256": sha256(data),
                "tasks": ["walk_in_place"], "filename": f"{subject.external_id}.gait.npz"}
        up = self.api.post(self.url("upload-list"), body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())).json()
        half = len(data) if complete else len(data) // 2
        self.api.put(self.url("upload-chunk", pk=up["id"]), data[:half], content_type="application/offset+octet-stream",
                     HTTP_UPLOAD_OFFSET="0")
        if not complete:
            return up["id"]
        session = self.api.post(self.url("upload-complete", pk=up["id"])).json()["id"]
        with self.scope():
            s = GaitSession.objects.get(pk=session)
            QCReport.objects.create(session=s, passed=True)
            TaskFeatures.objects.create(session=s, task="walk_in_place", values={"cadence": 100})
            Embedding.objects.create(session=s, task="walk_in_place", model_name="gaitmae", model_version="v", vector=[0.1])
            for p in ("age", "bmi"):
                Prediction.objects.create(session=s, phenotype=p, body_system="x", value=1, model_name="m", model_version="v")
        return up["id"]

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.media)) for p in self.media.rglob("*") if p.is_file())

    def test_deleting_a_subject_erases_its_recordings_and_reports_it(self):
        self.upload(self.subject, seed=1)
        self.upload(self.subject, seed=2)
        self.upload(self.subject, seed=3, complete=False)  # a staged upload: its chunk is erased too
        self.upload(self.neighbour, seed=4)
        with self.scope():
            CohortSummary.objects.create(cohort=self.cohort, model_version="v", n_subjects=2, n_sessions=3)
            mine = [s.file_key for s in GaitSession.objects.filter(subject=self.subject)]
            theirs = [s.file_key for s in GaitSession.objects.filter(subject=self.neighbour)]
        before = self.files()
        assert set(mine) <= set(before) and len(before) == 4  # 3 session files + 1 staged chunk

        r = self.api.delete(self.url("subject-detail", pk=self.subject.pk))
        self.assertEqual(r.status_code, 200, r.content)
        report = r.json()
        self.assertEqual(report["removed"], {"predictions": 4, "embeddings": 2, "task_features": 2, "qc_reports": 2,
                                             "uploads": 3, "sessions": 2, "cohort_summaries": 1, "subjects": 1,
                                             "audit_events_pseudonymised": report["removed"]["audit_events_pseudonymised"]})
        self.assertEqual(report["removed"]["audit_events_pseudonymised"], 3)  # the 3 upload.create events
        self.assertTrue(report["complete"])
        self.assertEqual(report["storage"]["keys_still_present"], [])
        self.assertEqual(report["storage"]["keys_checked_absent"], 6)  # 3 uploads: final name + chunk each
        self.assertTrue(report["subject"].startswith("erased:"))
        # storage: only the neighbour's file is left
        self.assertEqual(self.files(), sorted(theirs))
        with self.scope():
            self.assertFalse(Subject.objects.filter(pk=self.subject.pk).exists())
            self.assertEqual(GaitSession.objects.filter(subject=self.neighbour).count(), 1)
            self.assertEqual(Prediction.objects.count(), 2)  # the neighbour's
            self.assertEqual(Upload.objects.filter(subject=self.neighbour).count(), 1)
            events = list(AuditEvent.objects.all())
        # the audit log keeps a pseudonymous record and no longer names S-1 (S-10 is untouched)
        erase = [e for e in events if e.action == "subject.erase"]
        self.assertEqual(len(erase), 1)
        self.assertEqual(erase[0].data["report"]["removed"], report["removed"])
        dump = json.dumps([[e.object_repr, e.data] for e in events])
        self.assertNotIn('"S-1"', dump)
        self.assertIn('"S-10"', dump)
        self.assertIn(report["subject"], dump)

    def test_erasure_is_per_organisation(self):
        with self.scope(self.other):
            outsider = Subject.objects.create(cohort=Cohort.objects.create(name="b"), external_id="S-1",
                                              birth_year=1990, sex="male")
        self.assertEqual(self.api.delete(self.url("subject-detail", pk=outsider.pk)).status_code, 404)
        self.assertEqual(self.client_for(Role.VIEWER).delete(self.url("subject-detail", pk=self.subject.pk)).status_code, 403)
        with self.scope(self.other):
            self.assertTrue(Subject.objects.filter(pk=outsider.pk).exists())
