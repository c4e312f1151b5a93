from cohorts.models import Cohort, Subject
from tenancy.models import Role

from tests.platform.base import APITestBase, CRUDTests


class CohortAPITest(CRUDTests, APITestBase):
    basename = "cohort"
    audit_prefix = "cohort"
    denied_role = Role.CLINICIAN
    update_data = {"description": "updated"}

    def make_object(self, i):
        return Cohort.objects.create(name=f"cohort {i}")

    def create_data(self):
        return {"name": "new cohort", "description": "d"}

    def test_duplicate_name_is_a_400_not_a_500(self):
        self._make(1)
        r = self.client_for().post(self.url("cohort-list"), {"name": "cohort 0"}, format="json")
        self.assertError(r, 400, "invalid")

    def test_cohort_with_subjects_cannot_be_deleted(self):
        cohort = self._make(1)[0]
        with self.scope():
            Subject.objects.create(cohort=cohort, external_id="X1", birth_year=1980, sex="male")
        self.assertError(self.client_for().delete(self.url("cohort-detail", pk=cohort.pk)), 409, "protected")


class SubjectAPITest(CRUDTests, APITestBase):
    basename = "subject"
    audit_prefix = "subject"
    delete_status, delete_verb = 200, "erase"
    write_role = Role.CLINICIAN
    denied_role = Role.RESEARCHER
    update_data = {"weight_kg": 70.5, "consent_model_training": True}

    def setUp(self):
        with self.scope():
            self.cohort = Cohort.objects.create(name="main")

    def make_object(self, i):
        return Subject.objects.create(cohort=self.cohort, external_id=f"P{i:04d}", birth_year=1950 + i, sex="female")

    def create_data(self):
        return {"cohort": self.cohort.pk, "external_id": "P-NEW", "birth_year": 1980, "sex": "male",
                "consent_research": True}

    def test_cohort_of_another_organisation_is_an_invalid_choice(self):
        with self.scope(self.other):
            foreign = Cohort.objects.create(name="theirs")
        data = {**self.create_data(), "cohort": foreign.pk}
        err = self.assertError(self.client_for(Role.CLINICIAN).post(self.url("subject-list"), data, format="json"), 400)
        self.assertIn("cohort", err["details"])

    def test_names_are_refused_as_external_ids(self):
        data = {**self.create_data(), "external_id": "Jane Doe"}
        self.assertError(self.client_for(Role.CLINICIAN).post(self.url("subject-list"), data, format="json"), 400)

    def test_filter_and_order(self):
        self._make(5)
        r = self.client_for().get(self.url("subject-list"), {"birth_year_min": 1952, "ordering": "-birth_year"})
        years = [s["birth_year"] for s in r.json()["results"]]
        self.assertEqual(years, [1954, 1953, 1952])


class PhenotypeTableAPITest(APITestBase):
    def setUp(self):
        with self.scope():
            self.cohort = Cohort.objects.create(name="main")
            for i in range(3):
                Subject.objects.create(cohort=self.cohort, external_id=f"P{i}", birth_year=1970, sex="male")

    def upload(self, text: str, role=Role.RESEARCHER):
        from django.core.files.uploadedfile import SimpleUploadedFile

        f = SimpleUploadedFile("labels.csv", text.encode(), content_type="text/csv")
        return self.client_for(role).post(self.url("phenotypetable-list"),
                                          {"name": "labels", "cohort": self.cohort.pk, "file": f}, format="multipart")

    def test_rows_are_validated_one_by_one_with_a_report(self):
        r = self.upload("subject,bmi,vat\nP0,24.5,1.2\nP1,abc,1\nNOPE,1,2\nP2,,3.5\nP0,1,1\n")
        self.assertEqual(r.status_code, 201, r.content)
        report = r.json()["report"]
        self.assertEqual((report["rows"], report["accepted"], report["rejected"]), (5, 2, 3))
        self.assertEqual([e["row"] for e in report["errors"]], [3, 4, 6])
        self.assertIn("not a number", report["errors"][0]["errors"][0])
        labels = self.client_for().get(self.url("phenotypelabel-list"), {"table": r.json()["id"]}).json()
        self.assertEqual(labels["count"], 3)  # P0 bmi+vat, P2 vat
        self.assertIn("phenotype_table.create", self.audit_actions())

    def test_a_bad_header_refuses_the_file(self):
        self.assertError(self.upload("name,bmi\nP0,1\n"), 400, "invalid")

    def test_viewers_may_not_upload_labels(self):
        self.assertError(self.upload("subject,bmi\nP0,1\n", role=Role.VIEWER), 403)
