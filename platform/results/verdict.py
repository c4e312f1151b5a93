"""Whether a session's results may be shown as valid, and how a prediction reads: one place for pages, API,
exports, PDF and FHIR.

QC gate: a session whose QC report failed (``QCReport.passed`` false: e.g. more than half of the joint
samples missing) keeps its predictions in the database, but everywhere they are *withheld*: no value, no
interval, the QC reason instead. Cohort aggregates and normative comparisons leave such sessions out and say
how many. A session without a QC report has not been validated, so its results are withheld as well.
"""

from __future__ import annotations

from django.db.models import Q

from gaitcore.phenotypes import info

# sessions whose results may be shown: a passed QC report
QC_PASSED = Q(qc__passed=True)


def qc_verdict(session) -> tuple[bool | None, str]:
    """(passed, reason): passed is None when the session has no QC report yet."""
    qc = getattr(session, "qc", None)  # a missing reverse one-to-one raises an AttributeError subclass
    if qc is None:
        return None, "not quality-checked yet"
    if qc.passed:
        return True, ""
    return False, "; ".join(qc.issues or []) or "quality control failed"


def withheld_reason(session) -> str:
    """Why the session's results are withheld ("" when they may be shown)."""
    passed, reason = qc_verdict(session)
    return "" if passed else f"withheld: QC failed ({reason})" if passed is False else f"withheld: {reason}"


def recorded_on(session):
    return session.recorded_at or session.created_at


def flag(p) -> str:
    """"" or why the value is not plausible (outside the catalogue's plausible range)."""
    if p.unit == "probability":
        return ""
    c = info(p.phenotype)
    if p.value is not None and not c.plausible(p.value):
        return f"outside the plausible range {c.fmt(c.low)} to {c.fmt(c.high)} {c.unit}".rstrip()
    return ""


def clipped_interval(p) -> tuple[float | None, float | None]:
    """The prediction interval clipped to the phenotype's plausible range."""
    c = info(p.phenotype)
    return c.clip(p.lower), c.clip(p.upper)
