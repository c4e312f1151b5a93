"""A session's results as a FHIR R4 Bundle (JSON; ``GET /api/v1/fhir/sessions/{id}/`` and the subject
report's download).

Bundle (type ``collection``) of:

* one ``Device`` per model that produced a number: the GaitMAE embedding model version and each predictor
  (``model_name`` + ``model_version``), referenced from each Observation's ``device`` (and named in its
  ``method``);
* one ``Observation`` per prediction and per engineered gait feature: ``code`` (LOINC where the phenotype
  catalogue knows one, always the platform's own code system), ``valueQuantity`` in UCUM, the prediction
  interval as two components (lower and upper bound), the subject as a Reference by identifier (the
  pseudonym: no name or birth date leaves the platform), ``effectiveDateTime`` = the recording date;
  a value outside the catalogue's plausible range gets an ``interpretation`` note;
* one ``DiagnosticReport`` grouping them (``result``), with the QC verdict in ``conclusion``.

QC gate (``results.verdict``): when the session's QC failed, every Observation has status ``cancelled``,
no value and ``dataAbsentReason`` ``error`` with the QC reason; the report's conclusion says so.

Only the resource elements shared by R4 (4.0.1) and R4B are used. Tests validate every Bundle twice:
with ``fhir.resources``' R4B models (its current releases ship R5, R4B and STU3; its R4 releases need
pydantic 1, which the API's schema validator cannot share) and with ``fhirclient``'s models, generated from
FHIR R4 4.0.1 and parsed strictly (unknown, mistyped or missing required elements raise).
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from gaitcore.features.catalogue import BY_NAME as FEATURES
from gaitcore.phenotypes import LOINC, UCUM, info

from . import verdict
from .models import Embedding, Prediction, TaskFeatures

PHENOTYPE_SYSTEM = "https://gait.example/fhir/CodeSystem/phenotype"
FEATURE_SYSTEM = "https://gait.example/fhir/CodeSystem/gait-feature"
SUBJECT_SYSTEM = "https://gait.example/fhir/NamingSystem/subject-pseudonym/"
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FEATURE_UCUM = {"steps/min": "/min", "s": "s", "%": "%", "% gait cycle": "%", "m": "m", "m/s": "m/s", "mm": "mm",
                "deg": "deg", "mm/s": "mm/s", "mm^2": "mm2", "count": "{count}"}


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _quantity(value: float, unit: str, ucum: str) -> dict:
    return {"value": round(float(value), 6), "unit": unit or ucum, "system": UCUM, "code": ucum}


def _prediction_observation(p, subject_ref, when, device_ref, why: str) -> dict:
    c = info(p.phenotype)
    codings = [{"system": LOINC, "code": c.loinc, "display": c.display}] if c.loinc else []
    codings.append({"system": PHENOTYPE_SYSTEM, "code": p.phenotype, "display": c.display})
    probability = p.unit == "probability"
    unit, ucum = ("probability", "1") if probability else (c.unit, c.ucum)
    obs = {"resourceType": "Observation", "status": "cancelled" if why else "final",
           "category": [{"coding": [{"system": CATEGORY, "code": "exam", "display": "Exam"}]}],
           "code": {"coding": codings, "text": f"{c.display} (predicted from gait)"},
           "subject": subject_ref, "effectiveDateTime": when, "device": {"reference": device_ref},
           "method": {"text": f"predicted from gait by {p.model_name} on embedding model {p.model_version}"}}
    if why:
        obs["dataAbsentReason"] = {"coding": [{"system": ABSENT, "code": "error", "display": "Error"}], "text": why}
        return obs
    obs["valueQuantity"] = _quantity(p.value, unit, ucum)
    lo, hi = verdict.clipped_interval(p)
    if not probability and lo is not None and hi is not None:
        level = f"{100 * p.interval_level:.0f} %"
        obs["component"] = [
            {"code": {"text": f"lower bound of the {level} prediction interval"}, "valueQuantity": _quantity(lo, unit, ucum)},
            {"code": {"text": f"upper bound of the {level} prediction interval"}, "valueQuantity": _quantity(hi, unit, ucum)}]
    notes = []
    if verdict.flag(p):
        notes.append(f"Implausible value: {verdict.flag(p)}.")
    if p.reference_sd:
        notes.append(f"Training cohort reference ({p.reference_group}, n {p.reference_n}): mean {p.reference_mean:.4g}, "
                     f"SD {p.reference_sd:.4g}; deviation {(p.value - p.reference_mean) / p.reference_sd:+.2f} SD.")
    if notes:
        obs["note"] = [{"text": " ".join(notes)}]
    return obs


def _feature_observation(task, name, value, subject_ref, when, why: str) -> dict | None:
    spec = FEATURES.get(name)
    if spec is None or not isinstance(value, int | float):
        return None
    obs = {"resourceType": "Observation", "status": "cancelled" if why else "final",
           "category": [{"coding": [{"system": CATEGORY, "code": "exam", "display": "Exam"}]}],
           "code": {"coding": [{"system": FEATURE_SYSTEM, "code": name}],
                    "text": f"{spec.description.split(':')[0].split('.')[0]} ({task.replace('_', ' ')})"},
           "subject": subject_ref, "effectiveDateTime": when,
           "method": {"text": f"engineered gait feature computed from the skeleton recording, task {task}"}}
    if why:
        obs["dataAbsentReason"] = {"coding": [{"system": ABSENT, "code": "error", "display": "Error"}], "text": why}
    else:
        obs["valueQuantity"] = _quantity(value, spec.unit, FEATURE_UCUM.get(spec.unit, "1"))
    return obs


def session_bundle(session) -> dict:
    """The FHIR R4 Bundle of one session (call inside the organisation's scope)."""
    subject = session.subject
    subject_ref = {"identifier": {"system": f"{SUBJECT_SYSTEM}{session.organisation_id}", "value": subject.external_id},
                   "display": subject.external_id}
    when = verdict.recorded_on(session).isoformat()
    why = verdict.withheld_reason(session)
    entries, results = [], []
    devices: dict[tuple[str, str], str] = {}

    def device(name: str, version: str) -> str:
        if (name, version) not in devices:
            url = _urn()
            devices[(name, version)] = url
            entries.append({"fullUrl": url, "resource": {
                "resourceType": "Device", "deviceName": [{"name": name, "type": "model-name"}],
                "version": [{"value": version}]}})
        return devices[(name, version)]

    for model_name, model_version in (Embedding.objects.filter(session=session).order_by()
                                      .values_list("model_name", "model_version").distinct()):
        device(model_name, model_version)
    for p in Prediction.objects.filter(session=session).order_by("body_system", "phenotype", "id"):
        url = _urn()
        entries.append({"fullUrl": url, "resource": _prediction_observation(
            p, subject_ref, when, device(p.model_name, p.model_version), why)})
        results.append({"reference": url})
    for tf in TaskFeatures.objects.filter(session=session).order_by("task"):
        for name, value in sorted(tf.values.items()):
            obs = _feature_observation(tf.task, name, value, subject_ref, when, why)
            if obs is not None:
                url = _urn()
                entries.append({"fullUrl": url, "resource": obs})
                results.append({"reference": url})
    passed, reason = verdict.qc_verdict(session)
    conclusion = ("Quality control passed." if passed else f"Results withheld: {why.removeprefix('withheld: ')}.")
    report = {"resourceType": "DiagnosticReport", "status": "final" if passed else "cancelled",
              "code": {"coding": [{"system": PHENOTYPE_SYSTEM, "code": "gait-health-report"}],
                       "text": "Gait health report (predictions from a skeleton recording)"},
              "subject": subject_ref, "effectiveDateTime": when, "issued": timezone.now().isoformat(),
              "result": results, "conclusion": conclusion,
              "identifier": [{"system": f"https://gait.example/fhir/session/{session.organisation_id}",
                              "value": str(session.pk)}]}
    entries.insert(0, {"fullUrl": _urn(), "resource": report})
    return {"resourceType": "Bundle", "type": "collection", "timestamp": timezone.now().isoformat(), "entry": entries}
