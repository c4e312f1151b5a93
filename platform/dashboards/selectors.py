"""Every query of the dashboards. Each page runs a fixed number of queries whatever the number of rows;
aggregates (means, SDs, counts, shares outside a range) are computed by the database.

Deviations: a body system's deviation is the mean z of its phenotypes' predictions, each measured against the
predictor's training cohort (the reference statistics stored with the prediction: same sex and age band)
or, when the predictor has none, against this organisation's predictions of that phenotype (the pages then
say "relative to this organisation's subjects"). ``Prediction`` rows ``<system>_deviation`` in unit ``SD``
are a predictor's own deviations, used as they are. Gait age: phenotype ``gait_age`` (years).

QC gate (``results.verdict``): a subject's profile uses their latest processed (``done``) session whose
QC passed; sessions whose QC failed are left out of every aggregate (the pages say how many) and their
predictions are withheld on the subject report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cohorts.models import Cohort, Subject
from django.db.models import Avg, Case, Count, F, FloatField, OuterRef, Q, Subquery, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from recordings.models import GaitSession, SessionStatus
from registry.models import PredictorCard
from results.models import Prediction, QCReport, TaskFeatures
from results.selectors import lineage, live_bundle, pick_live
from results.verdict import QC_PASSED, clipped_interval, flag, recorded_on, withheld_reason
from tenancy.models import AuditEvent

from gaitcore.phenotypes import BY_NAME, SYSTEMS, info, system_name

from .norms import (
    BOHANNON_1997,
    KEY_FEATURES,
    NORM_TASK,
    NORMS,
    SPEED_CAVEAT,
    SPEED_TASK,
    label,
    subject_norm,
)

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
    return system_name(system)


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


def latest_done_sessions(subjects, qc_passed: bool = True):
    """A subquery of the latest processed session id of each subject; with ``qc_passed`` (the default) only
    sessions whose QC passed count (a QC-failed session's results are withheld: ``results.verdict``)."""
    done = GaitSession.objects.filter(subject=OuterRef("pk"), status=SessionStatus.DONE)
    if qc_passed:
        done = done.filter(QC_PASSED)
    latest = done.order_by("-recorded_at", "-id").values("id")[:1]
    return subjects.annotate(latest=Subquery(latest)).filter(latest__isnull=False).values("latest")


def qc_excluded(subjects) -> int:
    """Subjects whose latest processed session failed QC (left out of the aggregates)."""
    latest = latest_done_sessions(subjects, qc_passed=False)
    return GaitSession.objects.filter(pk__in=latest).exclude(QC_PASSED).count()


def _z(field: str, org_stats: list[dict]):
    """A prediction's deviation in SD units: a predictor's own deviation row as it is; else against the
    training cohort's reference statistics stored with the prediction; else against the organisation's
    predictions of that phenotype (``org_stats``)."""
    whens = [When(DEVIATION, then=F(field)),
             When(reference_sd__gt=0, then=(F(field) - F("reference_mean")) / F("reference_sd"))]
    whens += [When(phenotype=r["phenotype"], then=(F(field) - Value(r["m"])) / Value(r["sd"])) for r in org_stats]
    return Case(*whens, default=None, output_field=FloatField())


def _profile_rows(session_ids):
    """Per session and body system: mean z of its phenotypes (value, interval bounds), the level, and how
    many of the rows were measured against the organisation (one query, plus one for the org's stats)."""
    base = _deviation_inputs().filter(session_id__in=session_ids)
    stats = _reference_stats()
    return list(base.order_by().values("body_system", "session_id").annotate(
        z=Avg(_z("value", stats)), zl=Avg(_z("lower", stats)), zu=Avg(_z("upper", stats)),
        level=Avg("interval_level"), n_org=Count("id", filter=~DEVIATION & Q(reference_sd__isnull=True)),
        n_rows=Count("id")).filter(z__isnull=False))


def system_profile(session_ids) -> list[dict]:
    """Per body system: mean deviation over subjects, its 95 % CI (mean +- 1.96 SD / sqrt(n)), the mean of the
    subjects' own (z-scaled) prediction intervals, n, and the reference: ``training`` (the predictor's
    training cohort, by sex and age band), ``organisation`` (this organisation's subjects: the predictor has
    no reference statistics) or ``mixed``."""
    acc: dict[str, list] = {}
    for r in _profile_rows(session_ids):  # one row per subject and system (bounded by subjects x 18)
        acc.setdefault(r["body_system"], []).append(r)
    out = []
    for s in SYSTEMS:
        rs = acc.get(s)
        if not rs:
            out.append({"system": s, "label": system_label(s), "n": 0})
            continue
        vals = [r["z"] for r in rs]
        n = len(vals)
        mean = sum(vals) / n
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
        half = 1.96 * sd / math.sqrt(n) if sd is not None else None
        n_org, n_rows = sum(r["n_org"] for r in rs), sum(r["n_rows"] for r in rs)
        zl = [r["zl"] for r in rs if r["zl"] is not None]
        zu = [r["zu"] for r in rs if r["zu"] is not None]
        out.append({"system": s, "label": system_label(s), "n": n, "mean": mean,
                    "ci_low": None if half is None else mean - half, "ci_high": None if half is None else mean + half,
                    "lower": sum(zl) / len(zl) if zl else None, "upper": sum(zu) / len(zu) if zu else None,
                    "level": rs[0]["level"],
                    "reference": "organisation" if n_org == n_rows else "training" if n_org == 0 else "mixed"})
    return out


# Raw-unit predictions that are not a body-system phenotype of their own: the age head (shown as gait age)
# and the gait-age gaps.
NOT_STANDARDISED = (GAIT_AGE, "age", "gait_age_gap", "gait_age_gap_corrected")


def _deviation_inputs():
    """Predictions that enter a body-system deviation: deviation rows and raw-unit phenotypes with an
    interval, of sessions whose QC passed."""
    return (Prediction.objects.filter(lower__isnull=False, session__qc__passed=True)
            .exclude(phenotype__in=NOT_STANDARDISED).exclude(unit="probability"))


def _reference_stats() -> list[dict]:
    """Mean and SD of each raw-unit phenotype without training reference statistics, over all of the
    organisation's predictions of QC-passed sessions (one query): the fallback reference."""
    rows = (_deviation_inputs().exclude(DEVIATION).filter(reference_sd__isnull=True).order_by().values("phenotype")
            .annotate(m=Avg("value"), m2=Avg(F("value") * F("value")), n=Count("id")))
    out = [{**r, "sd": sample_sd(r["m"], r["m2"], r["n"])} for r in rows]
    return [r for r in out if r["sd"] and r["sd"] > 1e-12 * max(1.0, abs(r["m"]))]


def age_at(when, birth_year: int) -> float:
    return when.year + (when.timetuple().tm_yday - 1) / 365.25 - birth_year - 0.5


def gait_age_points(session_ids) -> list[dict]:
    """(chronological age at the session, gait age, gap) per subject."""
    rows = (Prediction.objects.filter(session_id__in=session_ids, phenotype=GAIT_AGE)
            .values_list("value", "session__subject__birth_year", "session__recorded_at", "session__created_at"))
    pts = []
    for value, birth_year, recorded, created in rows:
        age = age_at(recorded or created, birth_year)
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


def speed_percentiles(session_ids) -> dict:
    """Walking speed of each profiled subject against the published norm for their age and sex
    (``norms.subject_norm``; overground task, else the normed task): {"n", "n_without", "median",
    "below_p5_pct", "source"} (n = subjects with a norm; n_without = with a speed but outside the norm's
    ages or sexes)."""
    rows = (TaskFeatures.objects.filter(session_id__in=session_ids, task__in=(SPEED_TASK, NORM_TASK))
            .annotate(v=Cast(KT("values__walking_speed_m_s"), FloatField()))
            .filter(v__isnull=False).order_by()
            .values_list("session_id", "task", "v", "session__recorded_at", "session__created_at",
                         "session__subject__birth_year", "session__subject__sex"))
    best: dict[int, tuple] = {}
    for sid, task, v, rec, created, born, sex in rows:
        if sid not in best or task == SPEED_TASK:
            best[sid] = (v, rec or created, born, sex)
    pct, without = [], 0
    for v, when, born, sex in best.values():
        n = subject_norm("walking_speed_m_s", v, age_at(when, born), sex)
        if n["percentile"] is None:
            without += 1
        else:
            pct.append(n["percentile"])
    pct.sort()
    mid = len(pct) // 2
    median = (pct[mid] if len(pct) % 2 else (pct[mid - 1] + pct[mid]) / 2) if pct else None
    return {"n": len(pct), "n_without": without, "median": median,
            "below_p5_pct": 100.0 * sum(p < 5 for p in pct) / len(pct) if pct else None,
            "source": BOHANNON_1997}


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
        "n_qc_excluded": qc_excluded(subjects),
        "systems": systems,
        "gait_age": points,
        "gap_hist": histogram(gaps),
        "gap_mean": sum(gaps) / len(gaps) if gaps else None,
        "features": feature_norms(sessions),
        "speed_norm": speed_percentiles(sessions),
        "cards": cards_for(sessions),
    }


def reference_wording(refs: set[str]) -> str:
    """How a page names the reference of its deviations."""
    if refs == {"training"}:
        return "the predictor's training cohort (same sex and age band)"
    if refs == {"organisation"}:
        return "relative to this organisation's subjects"
    if not refs:
        return ""
    return "the predictor's training cohort where it publishes reference statistics, else relative to this organisation's subjects"


def cohort_page(cohort, other, filters: Filters) -> dict:
    """Everything the cohort health profile page shows (``other``: the cohort compared side by side)."""
    profiles = [cohort_profile(c, filters) for c in (cohort, other) if c is not None]
    chart = [{"name": p["cohort"].name, "systems": p["systems"], "gait_age": p["gait_age"], "gap_hist": p["gap_hist"],
              "features": p["features"]} for p in profiles]
    refs = {r["reference"] for p in profiles for r in p["systems"] if r.get("n")}
    wording = reference_wording(refs)
    return {
        "cohort": cohort, "compare": other, "profiles": profiles, "filters": filters,
        "chart": {"profiles": chart, "axis": f"predicted deviation (SD units{'; ' + wording if wording else ''})"},
        "system_rows": [(row["label"], [p["systems"][i] for p in profiles]) for i, row in enumerate(profiles[0]["systems"])],
        "cards": list({(c.model_name, c.model_version): c for p in profiles for c in p["cards"]}.values()),
        "org_referenced": bool(refs - {"training"}),
        "reference": wording, "norms_note": SPEED_CAVEAT,
        "has_results": any(p["n_profiled"] for p in profiles),
        "all_cohorts": list(Cohort.objects.filter(archived_at__isnull=True).exclude(pk=cohort.pk)),
        "age_bands": AGE_BANDS, "sexes": SEXES,
    }


# ---- subject report ------------------------------------------------------------------------------------
def subject_sessions(subject) -> list[dict]:
    """Sessions over time with gait age, key features and QC (a constant number of queries). The gait age of
    a session whose QC failed is withheld (``withheld`` says why)."""
    enc, name = live_bundle()  # the live bundle's gait age first (earlier bundles' rows are kept)
    live = Q(**({"model_version": enc} if enc else {}), **({"model_name": name} if name else {}))
    first = [Case(When(live, then=Value(0)), default=Value(1))] if live else []
    gait_age = Prediction.objects.filter(session=OuterRef("pk"), phenotype=GAIT_AGE).order_by(*first, "-id")
    feats = TaskFeatures.objects.filter(session=OuterRef("pk"), task=NORM_TASK)
    ann = {"gait_age": Subquery(gait_age.values("value")[:1]),
           "gait_age_lower": Subquery(gait_age.values("lower")[:1]),
           "gait_age_upper": Subquery(gait_age.values("upper")[:1])}
    for f in KEY_FEATURES:
        ann[f] = Subquery(feats.annotate(v=Cast(KT(f"values__{f}"), FloatField())).values("v")[:1])
    rows = list(GaitSession.objects.filter(subject=subject).annotate(**ann).select_related("qc")
                .order_by("recorded_at", "id"))
    ga = info(GAIT_AGE)
    out = []
    for s in rows:
        when = recorded_on(s)
        qc = getattr(s, "qc", None)  # (a missing reverse one-to-one raises an AttributeError subclass)
        why = withheld_reason(s) if s.status == SessionStatus.DONE else ""
        shown = s.gait_age is not None and not why
        out.append({"session": s, "when": when, "withheld": why,
                    "gait_age": s.gait_age if shown else None,
                    "gait_age_lower": ga.clip(s.gait_age_lower) if shown else None,
                    "gait_age_upper": ga.clip(s.gait_age_upper) if shown else None,
                    "age": age_at(when, subject.birth_year),
                    "features": {f: getattr(s, f) for f in KEY_FEATURES}, "qc": qc,
                    "task_qc": task_verdicts(qc)})
    return out


def task_verdicts(qc) -> list[dict]:
    """Each recorded task's QC verdict, in recording order: {task, label, passed, reason, missing_pct,
    duration_s} ([] without a QC report, or for one made before QC was recorded per task)."""
    from gaitcore.schemas import TASK_LABELS

    out = []
    for t in (qc.tasks if qc is not None else None) or []:
        out.append({"task": t["task"], "label": TASK_LABELS.get(t["task"], t["task"].replace("_", " ")),
                    "passed": bool(t.get("passed")), "reason": "; ".join(t.get("issues") or []),
                    "missing_pct": 100.0 * (t.get("fraction_missing") or 0.0), "duration_s": t.get("duration_s")})
    return out


@dataclass
class SystemDeviation:
    """A body system's deviation: the mean z of its phenotypes (value and interval bounds)."""

    body_system: str
    value: float
    lower: float | None
    upper: float | None
    interval_level: float
    reference: str  # "training" | "organisation" | "mixed"
    label: str = ""
    unit: str = "SD"


@dataclass
class PhenotypeRow:
    """One prediction as the report shows it: catalogue name and unit, rounding, interval clipped to the
    plausible range, a flag when the value itself is implausible, and the direction that is worse."""

    phenotype: str
    label: str
    system: str
    value: str
    interval: str
    unit: str
    worse: str
    flag: str
    reference: str
    level: float


def _zs(p, org: dict) -> tuple[float, float | None, float | None, str] | None:
    if is_deviation(p):
        return p.value, p.lower, p.upper, "training"
    if p.reference_sd:
        m, sd, ref = p.reference_mean, p.reference_sd, "training"
    elif p.phenotype in org:
        (m, sd), ref = org[p.phenotype], "organisation"
    else:
        return None
    return ((p.value - m) / sd, None if p.lower is None else (p.lower - m) / sd,
            None if p.upper is None else (p.upper - m) / sd, ref)


def system_deviations(preds) -> list[SystemDeviation]:
    """Per body system of a session's predictions (ordered as SYSTEMS): the mean z of its phenotypes."""
    rows = [p for p in preds if p.lower is not None and p.upper is not None and p.unit != "probability"
            and p.phenotype not in NOT_STANDARDISED]
    if not rows:
        return []
    org = {}
    if any(not is_deviation(p) and not p.reference_sd for p in rows):
        org = {r["phenotype"]: (r["m"], r["sd"]) for r in _reference_stats()}
    acc: dict[str, list] = {}
    for p in rows:
        z = _zs(p, org)
        if z is not None:
            acc.setdefault(p.body_system, []).append((*z, p.interval_level))
    out = []
    order = {s: i for i, s in enumerate(SYSTEMS)}
    for system in sorted(acc, key=lambda s: order.get(s, 99)):
        zs = acc[system]
        n = len(zs)
        refs = {z[3] for z in zs}
        out.append(SystemDeviation(system, sum(z[0] for z in zs) / n, sum(z[1] for z in zs) / n,
                                   sum(z[2] for z in zs) / n, zs[0][4],
                                   refs.pop() if len(refs) == 1 else "mixed", system_label(system)))
    return out


def phenotype_row(p) -> PhenotypeRow:
    c = info(p.phenotype)
    if p.unit == "probability":
        value, interval, unit = f"{100 * p.value:.0f} %", "-", "probability"
    else:
        lo, hi = clipped_interval(p)
        value = c.fmt(p.value)
        interval = f"{c.fmt(lo)} to {c.fmt(hi)}" if lo is not None and hi is not None else "-"
        unit = c.unit if p.phenotype in BY_NAME else p.unit
    ref = ""
    if p.reference_sd:
        ref = f"training cohort {p.reference_group} (n {p.reference_n}): {c.fmt(p.reference_mean)} +/- {c.fmt(p.reference_sd)}"
    return PhenotypeRow(p.phenotype, c.display, c.system_display, value, interval, unit,
                        {"higher": "higher", "lower": "lower"}.get(c.worse, ""), flag(p), ref, p.interval_level)


def gait_age_summary(preds, session, subject) -> dict | None:
    """The one gait-age figure: value, interval (clipped), chronological age, gap and corrected gap, and a
    plain-language note on the gap."""
    by = {p.phenotype: p for p in preds}
    g = by.get(GAIT_AGE)
    if g is None:
        return None
    c = info(GAIT_AGE)
    age = age_at(recorded_on(session), subject.birth_year)
    gap = g.value - age
    corrected = by.get("gait_age_gap_corrected")
    direction = "older" if gap > 0 else "younger"
    note = (f"Walks like a typical person {abs(gap):.0f} years {direction} than their age ({age:.0f})."
            if abs(gap) >= 1 else f"Walks like a typical person of their age ({age:.0f}).")
    if corrected is not None:
        note += (f" Part of any gap is regression to the mean (predictions are pulled towards the training cohort's "
                 f"average age); compared with people of the same age in the training cohort the gap is "
                 f"{corrected.value:+.0f} years.")
    half = (g.upper - g.lower) / 2 if g.lower is not None and g.upper is not None else None
    if half is not None and abs(gap) < half:
        note += f" The gap is within the prediction's {100 * g.interval_level:.0f} % interval (+/- {half:.0f} years)."
    lo, hi = clipped_interval(g)
    return {"value": g.value, "lower": lo, "upper": hi, "level": g.interval_level, "age": age, "gap": gap,
            "corrected": corrected.value if corrected is not None else None, "note": note,
            "text": f"{c.fmt(g.value)} years" + (f" ({c.fmt(lo)} to {c.fmt(hi)})" if lo is not None else "")}


def subject_predictions(session, subject) -> dict:
    """The predictions of one session: gait age, deviations per body system, the phenotype rows, the
    predictor cards and the attribution per system from each card."""
    preds = list(Prediction.objects.filter(session=session).select_related("encoder_version", "predictor_version")
                 .order_by("body_system", "phenotype", "id"))
    preds = pick_live(preds)  # earlier bundles' rows are kept (registry): show the live bundle's
    deviations = system_deviations(preds)
    order = {s: i for i, s in enumerate(SYSTEMS)}
    others = sorted((p for p in preds if not is_deviation(p) and p.phenotype not in NOT_STANDARDISED),
                    key=lambda p: (order.get(p.body_system, 99), info(p.phenotype).display))
    cards = cards_by_pair({(p.model_name, p.model_version) for p in preds})
    attribution = []
    for d in deviations:
        a = next(((c.attribution or {}).get(d.body_system) for c in cards if (c.attribution or {}).get(d.body_system)), None)
        if a:
            attribution.append({"system": d.body_system, "label": d.label, **a})
    return {"gait_age": gait_age_summary(preds, session, subject), "deviations": deviations,
            "lineage": lineage(preds[0]) if preds else None,
            "phenotypes": [phenotype_row(p) for p in others], "cards": cards, "attribution": attribution,
            "reference": reference_wording({d.reference for d in deviations} | {"training" for p in others if p.reference_sd}
                                           if deviations else set())}


def subject_norms(subject, session) -> list[dict]:
    """Every engineered gait feature of ``session``'s normed task (catalogue order) against its norm for the
    subject's age and sex: a percentile where a published norm has an SD, else "no published norm" (with an
    indicative range where the platform has one)."""
    from gaitcore.features.catalogue import FEATURES

    if session is None:
        return []
    feats = {t.task: t.values for t in TaskFeatures.objects.filter(session=session)}
    age = age_at(recorded_on(session), subject.birth_year)
    out = []
    for f in (spec.name for spec in FEATURES):
        task = SPEED_TASK if f == "walking_speed_m_s" and f in feats.get(SPEED_TASK, {}) else NORM_TASK
        value = feats.get(task, {}).get(f)
        if not isinstance(value, int | float):
            continue
        name, unit = label(f)
        n = subject_norm(f, float(value), age, subject.sex)
        out.append({"feature": f, "label": name, "unit": unit, "task": task.replace("_", " "), "value": float(value),
                    **n, "outside": n["low"] is not None and not (n["low"] <= value <= n["high"])})
    return out


EMPTY_PREDICTIONS = {"lineage": None, "gait_age": None, "deviations": [], "phenotypes": [], "cards": [], "attribution": [], "reference": ""}


def subject_report(subject) -> dict:
    """Sessions over time and the predictions of the latest processed session whose QC passed (page and
    PDF); newer processed sessions whose QC failed are listed with the reason their results are withheld."""
    sessions = subject_sessions(subject)
    done = [s for s in sessions if s["session"].status == SessionStatus.DONE]
    valid = [s for s in done if not s["withheld"]]
    latest = valid[-1]["session"] if valid else None
    withheld = [s for s in done if s["withheld"] and (latest is None or s["when"] >= recorded_on(latest))]
    preds = subject_predictions(latest, subject) if latest else dict(EMPTY_PREDICTIONS)
    return {"subject": subject, "sessions": sessions, "latest": latest, "withheld": withheld,
            "norms": subject_norms(subject, latest), "norms_note": SPEED_CAVEAT, **preds}


def subject_page(subject) -> dict:
    ctx = subject_report(subject)
    ctx["chart"] = {
        "sessions": [{"when": s["when"].date().isoformat(), "age": round(s["age"], 1), "gait_age": s["gait_age"],
                      "lower": s["gait_age_lower"], "upper": s["gait_age_upper"], **s["features"]}
                     for s in ctx["sessions"] if s["gait_age"] is not None],
        "deviations": [{"label": p.label, "value": p.value, "lower": p.lower, "upper": p.upper} for p in ctx["deviations"]],
        "axis": f"predicted deviation (SD units; {ctx['reference']})",
        "attribution": ctx["attribution"]}
    ctx["replay_sessions"] = [s["session"] for s in ctx["sessions"] if s["session"].file_key]
    return ctx


def audit_page(offset: int, limit: int = 50):
    qs = AuditEvent.objects.select_related("actor_user", "actor_token").order_by("-created_at", "-id")
    rows = list(qs[offset:offset + limit + 1])
    for e in rows:
        e.details = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in (e.data or {}).items())
    return rows
