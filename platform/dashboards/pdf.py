"""The subject report as a PDF (fpdf2: pure Python, core fonts, no system libraries).

Every table fits the printable width (190 mm on A4); a cell's text is shortened to its column (with "...")
rather than running into the next one, and long notes wrap. Provenance (predictor, interval level, the
reference of the deviations) is stated once per table. Results of a session whose QC failed are withheld
(``results.verdict``). ``tests/platform/dashboards/pdfcheck.py`` checks with pdfplumber that no two text boxes
overlap and none leaves the page.
"""

from __future__ import annotations

from django.utils import timezone
from fpdf import FPDF

from .norms import SPEED_CAVEAT

DEMO_MARK = "DEMONSTRATION ONLY - NOT FOR CLINICAL USE"
WIDTH = 190  # printable width (A4, 10 mm margins)


def _t(text) -> str:
    """Core PDF fonts are Latin-1: replace what they cannot show."""
    s = "" if text is None else str(text)
    s = (s.replace("\u2014", "-").replace("\u2013", "-").replace("\u00b1", "+/-").replace("\u2265", ">=")
         .replace("\u2212", "-").replace("\u2192", "->"))
    return s.encode("latin-1", "replace").decode("latin-1")


def _num(v, fmt="{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` shortened with "..." to fit a cell of ``width`` mm (1 mm padding each side)."""
    s = _t(text)
    room = width - 2 * pdf.c_margin - 0.5
    if pdf.get_string_width(s) <= room:
        return s
    while s and pdf.get_string_width(s + "...") > room:
        s = s[:-1]
    return s + "..."


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(WIDTH, 7, _t(text), new_x="LMARGIN", new_y="NEXT")


def _note(pdf: FPDF, text: str, size: int = 8) -> None:
    pdf.set_font("Helvetica", "", size)
    pdf.multi_cell(WIDTH, size * 0.5, _t(text), new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: list[int]) -> None:
    assert sum(widths) <= WIDTH, widths
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_fill_color(230, 236, 245)
    for h, w in zip(header, widths, strict=True):
        pdf.cell(w, 6, _fit(pdf, h, w), border=1, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 8)
    for r in rows:
        if pdf.will_page_break(5.5):
            pdf.add_page()
        for v, w in zip(r, widths, strict=True):
            pdf.cell(w, 5.5, _fit(pdf, v, w), border=1)
        pdf.ln()


def subject_report_pdf(ctx: dict, organisation) -> bytes:
    subject = ctx["subject"]
    pdf = FPDF(format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_title(f"Gait report {subject.external_id}")
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(WIDTH, 9, _fit(pdf, f"Gait health report - {subject.external_id}", WIDTH), new_x="LMARGIN", new_y="NEXT")
    _note(pdf, f"{organisation.name} | cohort {subject.cohort.name} | born {subject.birth_year} | "
               f"{subject.get_sex_display()} | generated {timezone.now():%Y-%m-%d %H:%M} UTC", 10)
    cards = ctx.get("cards") or []
    if any(c.demonstration_only for c in cards):
        pdf.ln(1)
        pdf.set_fill_color(255, 236, 179)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(WIDTH, 8, _t(DEMO_MARK), border=1, fill=True, new_x="LMARGIN", new_y="NEXT", align="C")
    for c in cards:
        _note(pdf, f"Predictor {c.model_name} {c.model_version}: trained on {c.trained_on} ({c.cohort_kind}). {c.method}")

    _heading(pdf, "Sessions")
    _table(pdf, ["Date", "Status", "Age", "Gait age (interval)", "Speed m/s", "Cadence", "Quality control"],
           [[s["when"].date().isoformat(), s["session"].status, _num(s["age"], "{:.0f}"),
             "withheld (QC)" if s["withheld"] else "-" if s["gait_age"] is None else
             f"{s['gait_age']:.0f} ({_num(s['gait_age_lower'], '{:.0f}')}-{_num(s['gait_age_upper'], '{:.0f}')})",
             _num(s["features"].get("walking_speed_m_s")), _num(s["features"].get("cadence_steps_min"), "{:.0f}"),
             _qc(s)] for s in ctx["sessions"]], [22, 18, 12, 34, 20, 18, 66])
    task_rows = [[s["when"].date().isoformat(), t["label"], "passed" if t["passed"] else "FAILED",
                  f"{t['missing_pct']:.0f} %", _num(t["duration_s"], "{:.0f} s"), t["reason"] or "-"]
                 for s in ctx["sessions"] for t in s["task_qc"]]
    if task_rows:
        _heading(pdf, "Quality control per task")
        _table(pdf, ["Date", "Task", "Verdict", "Missing", "Duration", "Reason"], task_rows, [22, 38, 16, 16, 18, 80])
    for s in ctx.get("withheld") or []:
        _note(pdf, f"The session of {s['when']:%Y-%m-%d} failed quality control "
                   f"({'; '.join(s['qc'].issues) if s['qc'] else 'no QC report'}): its predictions are withheld and it "
                   "is left out of every cohort figure.", 9)

    latest = ctx.get("latest")
    _heading(pdf, "Gait age" + (f" (session of {(latest.recorded_at or latest.created_at):%Y-%m-%d})" if latest else ""))
    ga = ctx.get("gait_age")
    if ga:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(WIDTH, 6, _t(f"{ga['text']}, {100 * ga['level']:.0f} % prediction interval; chronological age "
                              f"{ga['age']:.0f}"), new_x="LMARGIN", new_y="NEXT")
        _note(pdf, ga["note"], 9)
    else:
        _note(pdf, "No gait age: no processed session that passed quality control.", 10)

    if ctx.get("deviations"):
        _heading(pdf, "Predicted deviation per body system")
        _table(pdf, ["Body system", "Deviation (SD)", "Interval (SD)", "Reference"],
               [[d.label, _num(d.value, "{:+.1f}"), f"{_num(d.lower, '{:+.1f}')} to {_num(d.upper, '{:+.1f}')}",
                 _REFS.get(d.reference, d.reference)] for d in ctx["deviations"]], [62, 28, 36, 64])
        ref = ctx.get("reference") or ""
        _note(pdf, "SD units " + (ref if ref.startswith("relative") else f"from {ref}") +
              " (0 = typical; positive = higher than typical).")
    if ctx.get("phenotypes"):
        rows = ctx["phenotypes"]
        _heading(pdf, "Predicted phenotypes")
        _note(pdf, f"Predicted from gait, not measured; {100 * rows[0].level:.0f} % prediction intervals clipped to "
                   f"plausible values. " + " ".join(f"Predictor {c.model_name} {c.model_version}." for c in cards))
        _table(pdf, ["Phenotype", "Prediction", "Interval", "Unit", "Worse when", "Note"],
               [[p.label, p.value, p.interval, p.unit, p.worse or "-", p.flag] for p in rows], [66, 20, 32, 26, 16, 30])
    if not ctx.get("deviations") and not ctx.get("phenotypes"):
        _note(pdf, "No predictions: no processed session that passed quality control.", 10)
    if ctx.get("norms"):
        _heading(pdf, "Gait features against published norms")
        _note(pdf, SPEED_CAVEAT)
        _table(pdf, ["Feature", "Subject", "Norm (age, sex)", "Percentile", "Source"],
               [[f"{n['label']} ({n['unit']})" if n["unit"] else n["label"], _num(n["value"]),
                 f"{n['mean']:.2f} +/- {n['sd']:.2f}" if n["mean"] is not None else
                 f"none (indicative {n['low']:.2f} to {n['high']:.2f})" if n["low"] is not None else "none",
                 _num(n["percentile"], "{:.0f}"), n["source"]] for n in ctx["norms"]], [52, 20, 44, 18, 56])
    if ctx.get("attribution"):
        _heading(pdf, "Body-part attribution (ablation importance)")
        _table(pdf, ["Body system", "Legs", "Arms", "Torso", "Head"],
               [[a["label"], *(f"{100 * a[k]:.0f} %" for k in ("legs", "arms", "torso", "head"))] for a in ctx["attribution"]],
               [70, 30, 30, 30, 30])
    return bytes(pdf.output())


_REFS = {"training": "training cohort, same sex and age band", "organisation": "this organisation's subjects",
         "mixed": "training cohort / organisation"}


def _qc(s) -> str:
    qc = s["qc"]
    if not qc:
        return "-"
    missing = f"{100 * (qc.metrics or {}).get('fraction_missing', 0):.0f} % missing"
    return f"passed, {missing}" if qc.passed else f"FAILED: {'; '.join(qc.issues)}"
