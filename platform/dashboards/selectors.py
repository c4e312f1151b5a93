"""Every query of the dashboards. Each page runs a fixed number of queries whatever the number of rows;
aggregates (means, SDs, counts, shares outside a range) are computed by the database.

Deviation predictions: ``Prediction`` rows ``<system>_deviation`` with ``unit == "SD"`` are a subject's predicted deviation of
one body system from the reference population (the predictor's training cohort), in SD units. Gait age:
phenotype ``gait_age`` (years). A subject's profile uses their latest processed (``done``) session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cohorts.models import Cohort, Subject
from django.db.models import Avg, Count, F, FloatField, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from recordings.models import GaitSession, SessionStatus
from registry.models import PredictorCard
from results.models import Prediction, QCReport, TaskFeatures
from tenancy.models import AuditEvent

from .norms import KEY_FEATURES, NORM_TASK, NORMS, label

SYSTEMS = (
    "cardiovascular", "liver", "sleep", "glycemic", "nmr_metabolomics", "lifestyle", "frailty",
    "mental_health", "body_composition", "bone_density", "lipids", "renal", "hematopoietic", "immune",
    "anthropometric", "metabolomics", "microbiome", "diet",
)  # fmt: skip  (docs/science.md#body-systems, in its order)
DEVIATION_UNIT = "SD"
DEVIATION_SUFFIX = "_deviation"  # a deviation row: phenotype "<system>_deviation" in unit "SD"
DEVIATION = Q(unit=DEVIATION_UNIT, phenotype__endswith=DEVIATION_SUFFIX)


def is_deviation(p) -> bool:
    return p.unit == DEVIATION_UNIT and p.phenotype.endswith(DEVIATION_SUFFIX)
GAIT_AGE = "gait_age"
AGE_BANDS = {"20-39": (20, 39), "40-59": (40, 59), "60-79": (60, 79), "80+": (80, 130)}
SEXES = ("female", "male")
QC_MISSING_WARN = 0.2  # a session with more than 20 % missing tracking is a QC warning


def sample_sd(mean, mean_sq, n):
    """Sample SD from the database's mean, mean of squares and count (None below 2 values). Used instead of
    ``StdDev``, whose SQLite implementation raises on a single value (PostgreSQL answers NULL)."""
    if mean is None or mean_sq is None or not n or n < 2:
        return None
    return math.sqrt(max(0.0, (mean_sq - mean * mean) * n / (n - 1)))


def system_label(system: str) -> str:
    return {"nmr_metabolomics": "NMR metabolomics"}.get(system, system.replace("_", " ").capitalize())


# ---- organisation home ------------------------------------------------------------------------------
def cohorts_with_counts(include_archived: bool = False):
    n_subjects = Subject.objects.filter(cohort=OuterRef("pk")).order_by().values("cohort").annotate(n=Count("id")).values("n")
    n_sessions = (GaitSession.objects.filter(subject__cohort=OuterRef("pk")).order_by().values("subject__cohort")
                  .annotate(n=Count("id")).values("n"))
    qs = Cohort.objects.all() if include_archived else Cohort.objects.filter(archived_at__isnull=True)
    return list(qs.annotate(n_subjects=Subquery(n_subjects), n_sessions=Subquery(n_sessions)).order_by("name"))


def recent_sessions(limit: int = 12):
    return list(GaitSession.objects.order_by("-created_at", "-id")
                .annotate(pseudonym=F("subject__external_id"))
                .values("id", "subject_id", "pseudonym", "status", "status_reason", "created_at", "updated_at")[:limit])


def status_counts() -> dict[str, int]:
    rows = GaitSession.objects.order_by().values("status").annotate(n=Count("id"))
    out = {s: 0 for s in SessionStatus.values}
    out.update({r["status"]: r["n"] for r in rows})
    return out


def qc_warnings(limit: int = 20):
    missing = Cast(KT("metrics__fraction_missing"), FloatField())
    return list(QCReport.objects.annotate(missing=missing)
                .filter(Q(passed=False) | Q(missing__gt=QC_MISSING_WARN))
                .annotate(pseudonym=F("session__subject__external_id"), subject_id=F("session__subject_id"))
                .order_by("-id").values("session_id", "subject_id", "pseudonym", "missing", "passed", "issues")[:limit])


def failed_sessions(limit: int = 20):
    return list(GaitSession.objects.filter(status=SessionStatus.FAILED).order_by("-updated_at", "-id")
                .annotate(pseudonym=F("subject__external_id"))
                .values("id", "subject_id", "pseudonym", "status_reason", "attempts", "updated_at")[:limit])


# ---- cohort health profile ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    sex: str = ""
    age_band: str = ""

    @classmethod
    def from_query(cls, q) -> Filters:
        sex = q.get("sex", "")
        band = q.get("age", "")
        return cls(sex if sex in SEXES else "", band if band in AGE_BANDS else "")

    def subjects(self, cohort):
        qs = Subject.objects.filter(cohort=cohort)
        if self.sex:
            qs = qs.filter(sex=self.sex)
        if self.age_band:
            lo, hi = AGE_BANDS[self.age_band]
            year = timezone.now().year
            qs = qs.filter(birth_year__gte=year - hi, birth_year__lte=year - lo)
        return qs


def latest_done_sessions(subjects):
    """A subquery of the latest processed session id of each subject."""
    latest = (GaitSession.objects.filter(subject=OuterRef("pk"), status=SessionStatus.DONE)
              .order_by("-recorded_at", "-id").values("id")[:1])
    return subjects.annotate(latest=Subquery(latest)).filter(latest__isnull=False).values("latest")


def system_profile(session_ids) -> list[dict]:
    """Per body system: mean predicted deviation, its 95 % CI (mean +- 1.96 SD / sqrt(n)), the mean of the
    subjects' own prediction intervals, n, and the reference the deviation is taken from.

    Deviation rows (unit ``SD``) are used as they are (reference: the predictor's training population).
    A system with only raw-unit predictions (e.g. mmol/L) is standardised per phenotype against all of the
    organisation's predictions of that phenotype and averaged per subject and system (reference: the
    organisation's subjects) -- said so on the page. Four queries whatever the number of rows."""
    rows = (Prediction.objects.filter(DEVIATION, session_id__in=session_ids).order_by()
            .values("body_system").annotate(mean=Avg("value"), m2=Avg(F("value") * F("value")), n=Count("id"),
                                            lower=Avg("lower"), upper=Avg("upper"), level=Avg("interval_level")))
    by = {r["body_system"]: {**r, "sd": sample_sd(r["mean"], r["m2"], r["n"]), "reference": "predictor"} for r in rows}
    missing = [s for s in SYSTEMS if s not in by]
    if missing:
        by.update(_standardised_profile(session_ids, missing))
    out = []
    for s in SYSTEMS:
        r = by.get(s)
        if r is None or not r["n"]:
            out.append({"system": s, "label": system_label(s), "n": 0})
            continue
        half = 1.96 * (r["sd"] or 0.0) / math.sqrt(r["n"]) if r["n"] > 1 else None
        out.append({"system": s, "label": system_label(s), "n": r["n"], "mean": r["mean"],
                    "ci_low": None if half is None else r["mean"] - half,
                    "ci_high": None if half is None else r["mean"] + half,
                    "lower": r["lower"], "upper": r["upper"], "level": r["level"], "reference": r["reference"]})
    return out


# Raw-unit predictions that are not a body-system phenotype of their own: the age head (shown as gait age)
# and the gait-age gaps.
NOT_STANDARDISED = (GAIT_AGE, "age", "gait_age_gap", "gait_age_gap_corrected")


def _raw_predictions(systems):
    base = Prediction.objects.filter(body_system__in=systems, lower__isnull=False).exclude(DEVIATION)
    return base.exclude(phenotype__in=NOT_STANDARDISED).exclude(unit="probability")


def _reference_stats(systems) -> list[dict]:
    """Mean and SD of each raw-unit phenotype over all of the organisation's predictions (one query)."""
    rows = (_raw_predictions(systems).order_by().values("phenotype")
            .annotate(m=Avg("value"), m2=Avg(F("value") * F("value")), n=Count("id")))
    out = [{**r, "sd": sample_sd(r["m"], r["m2"], r["n"])} for r in rows]
    return [r for r in out if r["sd"] and r["sd"] > 1e-12 * max(1.0, abs(r["m"]))]


def _standardised_profile(session_ids, systems) -> dict:
    from django.db.models import Case, Value, When

    base = _raw_predictions(systems)
    stats = _reference_stats(systems)
    if not stats:
        return {}
    def z(field):
        return Case(*[When(phenotype=r["phenotype"], then=(F(field) - Value(r["m"])) / Value(r["sd"])) for r in stats],
                    default=None, output_field=FloatField())
    per_subject = (base.filter(session_id__in=session_ids, phenotype__in=[r["phenotype"] for r in stats]).order_by()
                   .values("body_system", "session_id").annotate(z=Avg(z("value")), zl=Avg(z("lower")), zu=Avg(z("upper")),
                                                                 level=Avg("interval_level")))
    acc: dict[str, list] = {}
    for r in per_subject:  # one row per subject and system (bounded by subjects x 18)
        acc.setdefault(r["body_system"], []).append(r)
    out = {}
    for system, rs in acc.items():
        vals = [r["z"] for r in rs]
        n = len(vals)
        mean = sum(vals) / n
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
        out[system] = {"n": n, "mean": mean, "sd": sd, "lower": sum(r["zl"] for r in rs) / n,
                       "upper": sum(r["zu"] for r in rs) / n, "level": rs[0]["level"], "reference": "organisation"}
    return out


def gait_age_points(session_ids) -> list[dict]:
    """(chronological age at the session, gait age, gap) per subject."""
    rows = (Prediction.objects.filter(session_id__in=session_ids, phenotype=GAIT_AGE)
            .values_list("value", "session__subject__birth_year", "session__recorded_at", "session__created_at"))
    pts = []
    for value, birth_year, recorded, created in rows:
        when = recorded or created
        age = when.year + (when.timetuple().tm_yday - 1) / 365.25 - birth_year - 0.5
        pts.append({"age": round(age, 1), "gait_age": round(value, 1), "gap": round(value - age, 1)})
    return pts


def histogram(values: list[float], width: float = 2.0) -> dict:
    if not values:
        return {"labels": [], "counts": []}
    lo = math.floor(min(values) / width) * width
    hi = math.floor(max(values) / width) * width
    n = int(round((hi - lo) / width)) + 1
    counts = [0] * n
    for v in values:
        counts[min(n - 1, int((v - lo) // width))] += 1
    return {"labels": [f"{lo + i * width:+.0f}" for i in range(n)], "counts": counts}


def feature_norms(session_ids) -> list[dict]:
    """Per normed feature on ``NORM_TASK``: cohort mean, SD, n and the share of subjects outside the range."""
    qs = TaskFeatures.objects.filter(session_id__in=session_ids, task=NORM_TASK).order_by()
    ann = {f"f_{f}": Cast(KT(f"values__{f}"), FloatField()) for f in NORMS}
    agg = {}
    for f, (lo, hi) in NORMS.items():
        col = f"f_{f}"
        agg[f"{f}__mean"] = Avg(col)
        agg[f"{f}__m2"] = Avg(F(col) * F(col))
        agg[f"{f}__n"] = Count(col)
        agg[f"{f}__out"] = Count("id", filter=Q(**{f"{col}__lt": lo}) | Q(**{f"{col}__gt": hi}))
    res = qs.annotate(**ann).aggregate(**agg)
    out = []
    for f, (lo, hi) in NORMS.items():
        name, unit = label(f)
        n = res[f"{f}__n"] or 0
        out.append({"feature": f, "label": name, "unit": unit, "low": lo, "high": hi, "n": n,
                    "mean": res[f"{f}__mean"], "sd": sample_sd(res[f"{f}__mean"], res[f"{f}__m2"], n),
                    "outside_pct": 100.0 * res[f"{f}__out"] / n if n else None})
    return out


def cards_for(session_ids) -> list[PredictorCard]:
    pairs = set(Prediction.objects.filter(session_id__in=session_ids).order_by()
                .values_list("model_name", "model_version").distinct())
    return cards_by_pair(pairs)


def cards_by_pair(pairs) -> list:
    if not pairs:
        return []
    q = Q()
    for name, version in pairs:
        q |= Q(model_name=name, model_version=version)
    found = {(c.model_name, c.model_version): c for c in PredictorCard.objects.filter(q)}
    # a prediction without a card is shown as of unknown provenance (and so not for clinical use)
    return [found.get(p) or PredictorCard(model_name=p[0], model_version=p[1], trained_on="unknown",
                                          cohort_kind="unknown", demonstration_only=True) for p in sorted(pairs)]


def cohort_profile(cohort, filters: Filters) -> dict:
    subjects = filters.subjects(cohort)
    sessions = latest_done_sessions(subjects)
    points = gait_age_points(sessions)
    gaps = [p["gap"] for p in points]
    systems = system_profile(sessions)
    return {
        "cohort": cohort,
        "n_subjects": subjects.count(),
        "n_profiled": max([len(points)] + [s["n"] for s in systems]),
        "systems": systems,
        "gait_age": points,
        "gap_hist": histogram(gaps),
        "gap_mean": sum(gaps) / len(gaps) if gaps else None,
        "features": feature_norms(sessions),
        "cards": cards_for(sessions),
    }


def cohort_page(cohort, other, filters: Filters) -> dict:
    """Everything the cohort health profile page shows (``other``: the cohort compared side by side)."""
    profiles = [cohort_profile(c, filters) for c in (cohort, other) if c is not None]
    chart = [{"name": p["cohort"].name, "systems": p["systems"], "gait_age": p["gait_age"], "gap_hist": p["gap_hist"],
              "features": p["features"]} for p in profiles]
    return {
        "cohort": cohort, "compare": other, "profiles": profiles, "filters": filters, "chart": chart,
        "system_rows": [(row["label"], [p["systems"][i] for p in profiles]) for i, row in enumerate(profiles[0]["systems"])],
        "cards": list({(c.model_name, c.model_version): c for p in profiles for c in p["cards"]}.values()),
        "org_referenced": any(r.get("reference") == "organisation" for p in profiles for r in p["systems"]),
        "has_results": any(p["n_profiled"] for p in profiles),
        "all_cohorts": list(Cohort.objects.filter(archived_at__isnull=True).exclude(pk=cohort.pk)),
        "age_bands": AGE_BANDS, "sexes": SEXES,
    }


# ---- subject report ------------------------------------------------------------------------------------
def subject_sessions(subject) -> list[dict]:
    """Sessions over time with gait age, key features and QC (a constant number of queries)."""
    gait_age = Prediction.objects.filter(session=OuterRef("pk"), phenotype=GAIT_AGE).order_by("-id")
    feats = TaskFeatures.objects.filter(session=OuterRef("pk"), task=NORM_TASK)
    ann = {"gait_age": Subquery(gait_age.values("value")[:1]),
           "gait_age_lower": Subquery(gait_age.values("lower")[:1]),
           "gait_age_upper": Subquery(gait_age.values("upper")[:1])}
    for f in KEY_FEATURES:
        ann[f] = Subquery(feats.annotate(v=Cast(KT(f"values__{f}"), FloatField())).values("v")[:1])
    rows = list(GaitSession.objects.filter(subject=subject).annotate(**ann).select_related("qc")
                .order_by("recorded_at", "id"))
    out = []
    for s in rows:
        when = s.recorded_at or s.created_at
        qc = getattr(s, "qc", None)  # (a missing reverse one-to-one raises an AttributeError subclass)
        out.append({"session": s, "when": when, "gait_age": s.gait_age, "gait_age_lower": s.gait_age_lower,
                    "gait_age_upper": s.gait_age_upper,
                    "age": when.year + (when.timetuple().tm_yday - 1) / 365.25 - subject.birth_year - 0.5,
                    "features": {f: getattr(s, f) for f in KEY_FEATURES}, "qc": qc,
                    "task_qc": sorted(((qc.metrics or {}).get("tasks") or {}).items()) if qc else []})
    return out


@dataclass
class SystemDeviation:
    """A body system's deviation standardised from raw-unit predictions (mean z of its phenotypes against
    the organisation's predictions of each), shown like a predictor's own deviation rows."""

    body_system: str
    value: float
    lower: float
    upper: float
    interval_level: float
    model_name: str
    model_version: str
    unit: str = "SD (organisation)"
    label: str = ""
    card: object = None


def standardised_deviations(preds, systems) -> list[SystemDeviation]:
    """Per system (of ``systems``) of a session's raw-unit predictions with intervals: the mean z of its
    phenotypes (value and interval bounds) against the organisation's predictions (one query)."""
    rows = [p for p in preds if p.body_system in systems and p.lower is not None and p.upper is not None
            and not is_deviation(p) and p.unit != "probability" and p.phenotype not in NOT_STANDARDISED]
    if not rows:
        return []
    stats = {r["phenotype"]: (r["m"], r["sd"]) for r in _reference_stats({p.body_system for p in rows})}
    acc: dict[str, list] = {}
    for p in rows:
        if p.phenotype in stats:
            m, sd = stats[p.phenotype]
            acc.setdefault(p.body_system, []).append(((p.value - m) / sd, (p.lower - m) / sd, (p.upper - m) / sd, p))
    out = []
    for system, zs in acc.items():
        n = len(zs)
        first = zs[0][3]
        out.append(SystemDeviation(system, sum(z[0] for z in zs) / n, sum(z[1] for z in zs) / n,
                                   sum(z[2] for z in zs) / n, first.interval_level, first.model_name,
                                   first.model_version))
    return out


def subject_predictions(session) -> dict:
    """The latest session's predictions: deviations per system (ordered as SYSTEMS; a predictor's own SD
    rows, else standardised from its raw-unit predictions against the organisation's), the raw predictions,
    the predictor cards and the attribution per system from each card."""
    preds = list(Prediction.objects.filter(session=session).order_by("body_system", "phenotype", "id"))
    if preds:  # earlier predictors' rows are kept (registry): show the predictor that wrote last
        newest = max(preds, key=lambda p: (p.created_at, p.id))
        preds = [p for p in preds if (p.model_name, p.model_version) == (newest.model_name, newest.model_version)]
    order = {s: i for i, s in enumerate(SYSTEMS)}
    deviations = [p for p in preds if is_deviation(p)]
    covered = {p.body_system for p in deviations}
    deviations += standardised_deviations(preds, set(SYSTEMS) - covered)
    deviations.sort(key=lambda p: order.get(p.body_system, 99))
    others = [p for p in preds if not is_deviation(p)]
    cards = cards_by_pair({(p.model_name, p.model_version) for p in preds})
    card_of = {(c.model_name, c.model_version): c for c in cards}
    attribution = []
    for p in deviations:
        card = card_of.get((p.model_name, p.model_version))
        a = (card.attribution or {}).get(p.body_system) if card else None
        if a:
            attribution.append({"system": p.body_system, "label": system_label(p.body_system), **a})
        p.label = system_label(p.body_system)
        p.card = card
    for p in others:
        p.label = p.phenotype.replace("_", " ").capitalize()
        p.card = card_of.get((p.model_name, p.model_version))
    return {"deviations": deviations, "others": others, "cards": cards, "attribution": attribution}


def subject_report(subject) -> dict:
    """Sessions over time and the predictions of the latest processed session (page and PDF)."""
    sessions = subject_sessions(subject)
    done = [s for s in sessions if s["session"].status == SessionStatus.DONE]
    latest = done[-1]["session"] if done else None
    preds = subject_predictions(latest) if latest else {"deviations": [], "others": [], "cards": [], "attribution": []}
    return {"subject": subject, "sessions": sessions, "latest": latest, **preds}


def subject_page(subject) -> dict:
    ctx = subject_report(subject)
    ctx["chart"] = {
        "sessions": [{"when": s["when"].date().isoformat(), "age": round(s["age"], 1), "gait_age": s["gait_age"],
                      "lower": s["gait_age_lower"], "upper": s["gait_age_upper"], **s["features"]}
                     for s in ctx["sessions"] if s["gait_age"] is not None],
        "deviations": [{"label": p.label, "value": p.value, "lower": p.lower, "upper": p.upper} for p in ctx["deviations"]],
        "attribution": ctx["attribution"]}
    ctx["replay_sessions"] = [s["session"] for s in ctx["sessions"] if s["session"].file_key]
    return ctx


def audit_page(offset: int, limit: int = 50):
    qs = AuditEvent.objects.select_related("actor_user", "actor_token").order_by("-created_at", "-id")
    rows = list(qs[offset:offset + limit + 1])
    for e in rows:
        e.details = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in (e.data or {}).items())
    return rows
