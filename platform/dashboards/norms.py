"""Normative values of engineered gait features.

Two kinds, kept apart on purpose:

* ``AGE_SEX_NORMS``: published reference values by age decade and sex, mean and SD, so a subject gets a
  percentile (normal approximation of the band's mean and SD, stated as such on the page). Only what the
  cited table gives:

  - comfortable overground gait speed, adults 20-79: Bohannon RW (1997) "Comfortable and maximum walking
    speed of adults aged 20-79 years: reference values and determinants", Age and Ageing 26:15-19, Table 2
    (cm/s here in m/s; 230 healthy volunteers timed over 7.62 m). Checked (2026-12, readable copies of the
    abstract: PubMed 9143432, doi:10.1093/ageing/26.1.15): the abstract's two extremes, 127.2 cm/s (women
    in their seventies) and 146.2 cm/s (men in their forties), are the table's below. The other ten means
    and the twelve SDs are as transcribed from Table 2 in an earlier session; no readable copy of the table
    itself was found here, so they are NOT verified -- ``SPEED_CAVEAT`` says so on the page and the PDF.
  - the decade means of Bohannon RW & Andrews AW (2011) "Normal walking speed: a descriptive
    meta-analysis", Physiotherapy 97:182-189 (also used by ``gaitcore.synth.subject``) are shown beside it
    as the pooled mean; the meta-analysis reports no between-person SD, so no percentile comes from it.
    Checked against its abstract (PubMed 21820535): men 40-49, 143.4 cm/s (1.43 below); the other cells
    are as transcribed, not verified here.

* ``NORMS``: indicative ranges of healthy adults for a few other features, written by the platform's
  developers (broad on purpose). They are NOT traced to a published table readable here (the age/sex
  tables of Oberg et al. 1993, J Rehabil Res Dev 30:210-223, and Hollman et al. 2011, Gait Posture
  34:111-118, were looked for in 2026-12 and not found in a readable form), so every such feature reads
  "no published norm": the range frames a value, gives no percentile and is no diagnostic threshold.

Every other engineered feature has no norm at all and reads "no published norm" too. Units follow
``gaitcore.features.FEATURES``.
"""

from __future__ import annotations

import math

NORM_TASK = "treadmill_self_selected"
SPEED_TASK = "overground_walk"  # the published speed norms are overground; the treadmill task is used when absent

# feature -> (low, high)
NORMS: dict[str, tuple[float, float]] = {
    "walking_speed_m_s": (1.0, 1.5),
    "cadence_steps_min": (100.0, 125.0),
    "stride_length_m": (1.1, 1.6),
    "double_support_pct": (18.0, 30.0),
    "step_width_m": (0.05, 0.13),
    "stride_time_cv_pct": (1.0, 4.0),
    "step_time_asymmetry_pct": (0.0, 5.0),
}

KEY_FEATURES = ("walking_speed_m_s", "cadence_steps_min", "stride_length_m")
DECADES = ((20, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, 79))

# Bohannon 1997, Table 2: comfortable gait speed, mean and SD (m/s), by decade 20s..70s
BOHANNON_1997 = "Bohannon 1997, Age Ageing 26:15-19, Table 2"
NO_NORM = "no published norm"
SPEED_CAVEAT = ("Walking speed: comfortable speed of healthy adults by decade and sex, Bohannon 1997 (Age Ageing "
                "26:15-19, Table 2; 230 adults timed over 7.62 m). Only the table's extremes (127.2 cm/s, women "
                "70-79; 146.2 cm/s, men 40-49) were checked against the published abstract; the other cells are "
                "unverified transcriptions. Percentile: normal approximation from the band's mean and SD. "
                "Other features: no published age and sex norm on file; an indicative range, where shown, only "
                "frames the value.")
_SPEED_1997 = {
    "male": ((1.393, 0.153), (1.458, 0.099), (1.462, 0.164), (1.393, 0.224), (1.359, 0.205), (1.330, 0.196)),
    "female": ((1.407, 0.174), (1.415, 0.135), (1.390, 0.153), (1.395, 0.153), (1.296, 0.214), (1.272, 0.174)),
}
BOHANNON_ANDREWS_2011 = "Bohannon & Andrews 2011, Physiotherapy 97:182-189"
_SPEED_2011 = {"male": (1.36, 1.43, 1.43, 1.43, 1.34, 1.26), "female": (1.34, 1.34, 1.39, 1.31, 1.24, 1.13)}
AGE_SEX_NORMS = {"walking_speed_m_s": (_SPEED_1997, BOHANNON_1997)}


def label(feature: str) -> tuple[str, str]:
    """(label, unit) from the gaitcore catalogue."""
    from gaitcore.features.catalogue import BY_NAME

    spec = BY_NAME.get(feature)
    nice = feature.replace("_", " ")
    for suffix in (" m s", " steps min", " pct", " m", " mm", " deg", " s"):
        if nice.endswith(suffix):
            nice = nice[: -len(suffix)]
            break
    return nice.capitalize(), (spec.unit if spec else "")


def decade(age: float) -> int | None:
    return next((i for i, (lo, hi) in enumerate(DECADES) if lo <= age < hi + 1), None)


def percentile(value: float, mean: float, sd: float) -> float:
    """The percentile of ``value`` in a normal distribution (mean, sd)."""
    return 50.0 * (1.0 + math.erf((value - mean) / (sd * math.sqrt(2.0))))


def subject_norm(feature: str, value: float | None, age: float, sex: str) -> dict:
    """The norm of ``feature`` for a subject of this age and sex: {"mean", "sd", "percentile", "source",
    "group", "pooled_mean", "low", "high"} (what is known; empty strings/None otherwise)."""
    out: dict = {"mean": None, "sd": None, "percentile": None, "source": NO_NORM, "group": "", "pooled_mean": None,
                 "low": None, "high": None}
    if feature in NORMS:
        out["low"], out["high"] = NORMS[feature]
    table = AGE_SEX_NORMS.get(feature)
    d = decade(age)
    if table and d is not None and sex in ("male", "female"):
        rows, source = table
        mean, sd = rows[sex][d]
        lo, hi = DECADES[d]
        out.update(mean=mean, sd=sd, source=source, group=f"{sex}, {lo}-{hi} y")
        if feature == "walking_speed_m_s":
            out["pooled_mean"] = _SPEED_2011[sex][d]
        if value is not None:
            out["percentile"] = percentile(value, mean, sd)
    return out
