"""The FHIR R4 export of a session: a Bundle that validates as R4B (fhir.resources) and as R4 4.0.1
(fhirclient's strict models), withheld when QC failed."""

from __future__ import annotations

import json

from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.factories import seed_everything


def validate_bundle_r4(bundle: dict):
    """Parse the Bundle with fhirclient's models, generated from FHIR R4 4.0.1, strictly: an unknown or
    mistyped element, a missing required one or a wrong cardinality raises ``FHIRValidationError``; each
    ``entry.resource`` is parsed as its own resource type (the models' factory), so every resource in the
    Bundle is checked against R4. The round trip back to JSON must give the same resources."""
    from fhirclient.models.bundle import Bundle

    parsed = Bundle(bundle, strict=True)
    assert [e.resource.resource_type for e in parsed.entry] == [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert parsed.as_json()["entry"] == bundle["entry"]
    return parsed


def validate_bundle(bundle: dict):
    """Parse the Bundle and every resource in it with fhir.resources' models (R4B: see results.fhir), then
    as R4 (``validate_bundle_r4``)."""
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    parsed = Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    validate_bundle_r4(bundle)
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

    def test_r4_validation_rejects_what_r4_does_not_allow(self):
        """The R4 check can fail: an element R4 lacks, a mistyped value and a missing required element each
        raise, in the Bundle's own resources as in the Bundle."""
        import copy

        from fhirclient.models.fhirabstractbase import FHIRValidationError

        session = self.objs["gaitsession"][0]
        bundle = self.client_for(Role.VIEWER).get(self.url("session-fhir-detail", pk=session.pk)).json()
        validate_bundle_r4(bundle)
        obs_at = next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Observation")
        breakages = {
            "unknown element": lambda b: b["entry"][obs_at]["resource"].update(valueQuantityy={"value": 1}),
            "mistyped value": lambda b: b["entry"][obs_at]["resource"]["valueQuantity"].update(value="fast"),
            "missing required status": lambda b: b["entry"][obs_at]["resource"].pop("status"),
            "missing required Bundle.type": lambda b: b.pop("type"),
            "R5-only element": lambda b: b["entry"][0]["resource"].update(note=[{"text": "R5 only"}]),
        }
        for what, breakage in breakages.items():
            broken = copy.deepcopy(bundle)
            breakage(broken)
            with self.assertRaises(FHIRValidationError, msg=what):
                validate_bundle_r4(broken)
