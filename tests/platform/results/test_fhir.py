"""The FHIR R4 export of a session: a Bundle that validates with fhir.resources, withheld when QC failed."""

from __future__ import annotations

import json

from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.factories import seed_everything


def validate_bundle(bundle: dict):
    """Parse the Bundle and every resource in it with fhir.resources' models (R4B: see results.fhir)."""
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    parsed = Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return parsed


def check_session_bundle(bundle: dict, pseudonym: str, qc_passed: bool) -> dict:
    """What every session Bundle must hold; returns counts by resource type."""
    validate_bundle(bundle)
    by: dict[str, list] = {}
    for e in bundle["entry"]:
        by.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    (report,) = by["DiagnosticReport"]
    observations = by.get("Observation", [])
    assert len(report["result"]) == len(observations)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert all(r["reference"] in urls for r in report["result"])
    for o in observations:
        assert o["subject"]["identifier"]["value"] == pseudonym and o["effectiveDateTime"]
        if qc_passed:
            assert o["status"] == "final" and o["valueQuantity"]["system"] == "http://unitsofmeasure.org"
            assert o["valueQuantity"]["code"]
        else:
            assert o["status"] == "cancelled" and "valueQuantity" not in o and "QC failed" in o["dataAbsentReason"]["text"]
    return {k: len(v) for k, v in by.items()}


class FHIRExportTest(APITestBase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.objs = seed_everything(cls.org, "f", n_sessions=2)
        from results.models import TaskFeatures
        from tenancy.scope import organisation_scope

        with organisation_scope(cls.org):  # catalogue names (a name the catalogue lacks is left out)
            TaskFeatures.objects.update(values={"cadence_steps_min": 110.0, "walking_speed_m_s": 1.2, "other": 3})

    def test_session_bundle_validates_with_codes_units_interval_and_device(self):
        session = self.objs["gaitsession"][0]
        r = self.client_for(Role.VIEWER).get(self.url("session-fhir-detail", pk=session.pk))
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r["Content-Type"], "application/fhir+json")
        bundle = json.loads(r.content)
        counts = check_session_bundle(bundle, "SUBJ-f", qc_passed=True)
        self.assertEqual(counts["Observation"], 1 + 2)  # one prediction (age) + two engineered features
        obs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
        age = next(o for o in obs if "valueQuantity" in o and o["valueQuantity"]["code"] == "a")
        self.assertIn({"system": "http://loinc.org", "code": "30525-0", "display": "Age (predicted from gait)"},
                      age["code"]["coding"])
        self.assertEqual([c["valueQuantity"]["value"] for c in age["component"]], [45.0, 55.0])
        device = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == age["device"]["reference"])
        self.assertEqual(device["resourceType"], "Device")

    def test_qc_failed_session_bundle_withholds_every_value(self):
        from results.models import QCReport
        from tenancy.scope import organisation_scope

        session = self.objs["gaitsession"][1]
        with organisation_scope(self.org):
            QCReport.objects.filter(session=session).update(passed=False, issues=["61% of joint samples are missing"])
        bundle = self.client_for(Role.VIEWER).get(self.url("session-fhir-detail", pk=session.pk)).json()
        check_session_bundle(bundle, "SUBJ-f", qc_passed=False)
        report = bundle["entry"][0]["resource"]
        self.assertEqual(report["status"], "cancelled")
        self.assertIn("61% of joint samples are missing", report["conclusion"])
