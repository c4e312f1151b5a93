"""The subject report as a PDF (fpdf2: pure Python, core fonts, no system libraries)."""

from __future__ import annotations

from django.utils import timezone
from fpdf import FPDF

DEMO_MARK = "DEMONSTRATION ONLY - NOT FOR CLINICAL USE"


def _t(text) -> str:
    """Core PDF fonts are Latin-1: replace what they cannot show."""
    s = "" if text is None else str(text)
    s = s.replace("\u2014", "-").replace("\u2013", "-").replace("\u00b1", "+/-").replace("\u2265", ">=")
    return s.encode("latin-1", "replace").decode("latin-1")


def _num(v, fmt="{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def subject_report_pdf(ctx: dict, organisation) -> bytes:
    subject = ctx["subject"]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_title(f"Gait report {subject.external_id}")
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _t(f"Gait health report - {subject.external_id}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _t(f"{organisation.name} | cohort {subject.cohort.name} | born {subject.birth_year} | "
                      f"{subject.get_sex_display()} | generated {timezone.now():%Y-%m-%d %H:%M} UTC"),
             new_x="LMARGIN", new_y="NEXT")
    cards = ctx.get("cards") or []
    if any(c.demonstration_only for c in cards):
        pdf.set_fill_color(255, 236, 179)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 8, _t(DEMO_MARK), border=1, fill=True, new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("Helvetica", "", 9)
    for c in cards:
        pdf.multi_cell(0, 5, _t(f"Predictor {c.model_name} {c.model_version}: trained on {c.trained_on} "
                                f"({c.cohort_kind}). {c.method}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, "Sessions", new_x="LMARGIN", new_y="NEXT")
    _table(pdf, ["Date", "Status", "Age", "Gait age (interval)", "Speed m/s", "Cadence", "QC missing"],
           [[s["when"].date().isoformat(), s["session"].status, _num(s["age"], "{:.1f}"),
             "-" if s["gait_age"] is None else f"{s['gait_age']:.1f} ({_num(s['gait_age_lower'], '{:.1f}')}-{_num(s['gait_age_upper'], '{:.1f}')})",
             _num(s["features"].get("walking_speed_m_s")), _num(s["features"].get("cadence_steps_min"), "{:.0f}"),
             "-" if not s["qc"] else _num(100 * (s["qc"].metrics or {}).get("fraction_missing", 0), "{:.1f} %")]
            for s in ctx["sessions"]], [24, 20, 14, 44, 24, 20, 24])
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    latest = ctx.get("latest")
    pdf.cell(0, 7, _t("Predictions" + (f" (session of {(latest.recorded_at or latest.created_at):%Y-%m-%d})" if latest else "")),
             new_x="LMARGIN", new_y="NEXT")
    rows = [[p.label, _num(p.value), f"{_num(p.lower)} to {_num(p.upper)}", f"{int(round(100 * p.interval_level))} %",
             p.unit, f"{p.model_name} {p.model_version}"] for p in ctx["deviations"]]
    rows += [[p.label, _num(p.value), f"{_num(p.lower)} to {_num(p.upper)}",
              f"{int(round(100 * p.interval_level))} %", p.unit, f"{p.model_name} {p.model_version}"] for p in ctx["others"]]
    if rows:
        _table(pdf, ["Body system / phenotype", "Value", "Interval", "Level", "Unit", "Predictor"], rows,
               [48, 20, 36, 16, 16, 44])
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(0, 4, _t("Deviation values are in SD units from the predictor's reference population "
                                "(0 = typical; positive = higher than typical)."), new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(0, 6, "No predictions yet: the subject has no processed session.", new_x="LMARGIN", new_y="NEXT")
    if ctx.get("attribution"):
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 7, "Body-part attribution (ablation importance)", new_x="LMARGIN", new_y="NEXT")
        _table(pdf, ["Body system", "Legs", "Arms", "Torso", "Head"],
               [[a["label"], *(f"{100 * a[k]:.0f} %" for k in ("legs", "arms", "torso", "head"))] for a in ctx["attribution"]],
               [60, 25, 25, 25, 25])
    return bytes(pdf.output())


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: list[int]) -> None:
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_fill_color(230, 236, 245)
    for h, w in zip(header, widths, strict=True):
        pdf.cell(w, 6, _t(h), border=1, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for r in rows:
        for v, w in zip(r, widths, strict=True):
            pdf.cell(w, 5.5, _t(v)[:40], border=1)
        pdf.ln()
