"""Probe outputs: CSV tables, PNG figures (matplotlib, Agg) and one self-contained-ish HTML page.

Files written into the output folder (docs/probes.md lists the columns):

``scores.csv``, ``gain.csv``, ``systems.csv``, ``predictions.csv``, ``detection.csv`` (with a truth file),
``ablation.csv`` / ``ablation_systems.csv`` (with ablation results), ``summary.json``, ``report.html`` and
``fig_*.png``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from .tables import write_csv

FS_COLORS = {"embeddings": "#1f77b4", "features": "#ff7f0e", "naive": "#2ca02c", "covariates": "#7f7f7f"}


def _color(fs: str, i: int) -> str:
    return FS_COLORS.get(fs, f"C{i % 10}")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- figures -----------------------------------------------------------------------------------------
def fig_radar(systems_rows: list[dict], path: Path) -> Path | None:
    """Per-system radar: share of targets with significant gain and median gain, per feature set/stratum."""
    if not systems_rows:
        return None
    plt = _plt()
    systems = sorted({r["system"] for r in systems_rows})
    series = sorted({(r["feature_set"], r["stratum"]) for r in systems_rows})
    ang = np.linspace(0, 2 * np.pi, len(systems), endpoint=False)
    angc = np.r_[ang, ang[:1]]
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.8), subplot_kw={"projection": "polar"})
    styles = ["-", "--", ":", "-."]
    strata = sorted({s for _, s in series})
    fsets = sorted({f for f, _ in series})
    allg = [r["median_gain"] for r in systems_rows if np.isfinite(r["median_gain"])]
    lo = min(0.0, min(allg)) if allg else 0.0
    hi = max(0.05, max(allg)) if allg else 0.1
    for fs, st in series:
        sel = {r["system"]: r for r in systems_rows if r["feature_set"] == fs and r["stratum"] == st}
        frac = np.array([sel[s]["n_significant"] / max(sel[s]["n_targets"], 1) if s in sel else np.nan for s in systems])
        med = np.array([sel[s]["median_gain"] if s in sel else np.nan for s in systems])
        kw = dict(color=_color(fs, fsets.index(fs)), ls=styles[strata.index(st) % 4], lw=1.8,
                  label=f"{fs} ({st})")
        axes[0].plot(angc, np.r_[frac, frac[:1]], **kw)
        axes[1].plot(angc, np.r_[med, med[:1]], **kw)
    axes[0].set_ylim(0, 1)
    axes[0].set_title("share of targets with significant gain (FDR < 0.1)", pad=28, fontsize=11)
    axes[1].set_ylim(lo, hi)
    zero = np.zeros_like(angc)
    axes[1].plot(angc, zero, color="k", lw=0.8, alpha=0.6)
    axes[1].set_title("median gain in Pearson r / AUC (black circle = 0)", pad=28, fontsize=11)
    for ax in axes:
        ax.set_xticks(ang)
        ax.set_xticklabels([s.replace("_", "\n") for s in systems], fontsize=8)
        ax.tick_params(axis="y", labelsize=6, labelcolor="#555555")
        ax.tick_params(axis="x", pad=6)
        ax.set_rlabel_position(180.0 / len(systems))  # radial labels between two systems
    axes[1].legend(loc="upper right", bbox_to_anchor=(1.35, 1.12), fontsize=8)
    fig.suptitle("Predictive gain of gait over covariates, per body system", fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def axis_range(y: np.ndarray, margin: float = 0.15) -> tuple[float, float]:
    """Axis limits of a predicted-vs-true panel: the range of the true values plus a margin, so that a
    few wild predictions (from outlier inputs) cannot squash every other point into a corner."""
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if not len(y):
        return 0.0, 1.0
    lo, hi = float(y.min()), float(y.max())
    pad = margin * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


def fig_scatter(pred_rows: list[dict], target: str, path: Path, score_lookup: dict | None = None) -> Path | None:
    """Predicted (out-of-fold, mean over seeds) vs true ``target``, one panel per feature set."""
    rows = [r for r in pred_rows if r["target"] == target]
    if not rows:
        return None
    plt = _plt()
    fsets = list(dict.fromkeys(r["feature_set"] for r in rows))
    fig, axes = plt.subplots(1, len(fsets), figsize=(4.6 * len(fsets), 4.6), squeeze=False)
    for ax, fs in zip(axes[0], fsets, strict=False):
        sel = [r for r in rows if r["feature_set"] == fs]
        y = np.array([r["true"] for r in sel])
        p = np.array([r["predicted"] for r in sel])
        sex = np.array([r["sex"] for r in sel])
        for s, c in (("F", "#d62728"), ("M", "#1f77b4"), ("", "#7f7f7f")):
            m = sex == s
            if m.any():
                ax.scatter(y[m], p[m], s=6, alpha=0.45, color=c, label={"F": "women", "M": "men"}.get(s, "unknown"))
        ok = np.isfinite(y) & np.isfinite(p)
        lo, hi = axis_range(y[ok])
        off = int((ok & ((p < lo) | (p > hi))).sum())  # wild predictions (outlier inputs) would squash the panel
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        r = np.corrcoef(y[ok], p[ok])[0, 1] if ok.sum() > 2 else np.nan
        ax.set_title(f"{fs}: r = {r:.3f} (pooled OOF)" + (f", {off} off-scale" if off else ""), fontsize=10)
        ax.set_xlabel(f"true {target}")
        ax.set_ylabel(f"predicted {target}")
        ax.set_aspect("equal", adjustable="box")
        ax.legend(fontsize=7, loc="upper left")
    # on one panel (a single feature set) the one-line title is wider than the figure: wrap it there
    sep = "\n" if len(fsets) == 1 else " "
    fig.suptitle(f"Predicted vs true {target}{sep}(gait only, out-of-fold, mean over seeds)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def fig_comparison(score_rows: list[dict], path: Path, key_targets=("age", "bmi", "vat", "height", "sex")) -> Path | None:
    """Feature-set comparison: key targets (bars, mean +- SD over seeds) and all phenotypes (box plots)."""
    rows = [r for r in score_rows if r["model"] == "gait"]
    if not rows:
        return None
    plt = _plt()
    fsets = list(dict.fromkeys(r["feature_set"] for r in rows))
    strata = list(dict.fromkeys(r["stratum"] for r in rows))
    keys = [t for t in key_targets if any(r["target"] == t for r in rows)]
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [1.3, 1]})
    ax = axes[0]
    labels = [f"{t}\n({s})" for t in keys for s in strata if any(r["target"] == t and r["stratum"] == s for r in rows)]
    pairs = [(t, s) for t in keys for s in strata if any(r["target"] == t and r["stratum"] == s for r in rows)]
    w = 0.8 / max(len(fsets), 1)
    for i, fs in enumerate(fsets):
        m, e = [], []
        for t, s in pairs:
            r = next((r for r in rows if r["feature_set"] == fs and r["target"] == t and r["stratum"] == s), None)
            m.append(r["score_mean"] if r else np.nan)
            e.append(r["score_sd"] if r else np.nan)
        ax.bar(np.arange(len(pairs)) + (i - (len(fsets) - 1) / 2) * w, m, w, yerr=e, color=_color(fs, i), label=fs,
               capsize=2)
    ax.set_xticks(np.arange(len(pairs)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("Pearson r (AUC for sex)")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title("key targets, gait only (mean +- SD over seeds)", fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1]
    data, names, cols = [], [], []
    for i, fs in enumerate(fsets):
        for s in strata:
            v = [r["score_mean"] for r in rows if r["feature_set"] == fs and r["stratum"] == s
                 and r["system"] not in ("covariate",) and np.isfinite(r["score_mean"])]
            if v:
                data.append(v)
                names.append(f"{fs}\n{s}")
                cols.append(_color(fs, i))
    if data:
        bp = ax.boxplot(data, patch_artist=True, widths=0.6)
        for patch, c in zip(bp["boxes"], cols, strict=False):
            patch.set_facecolor(c)
            patch.set_alpha(0.6)
        ax.set_xticks(np.arange(1, len(names) + 1))
        ax.set_xticklabels(names, fontsize=8)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("score (r / AUC)")
    ax.set_title("all phenotypes, gait only", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def fig_ablation(system_rows: list[dict], path: Path) -> Path | None:
    """Heat map of body-part importance (mean over targets) per system x group, one panel per stratum."""
    if not system_rows:
        return None
    plt = _plt()
    order = ["legs", "arms", "torso", "head"]
    systems = sorted({r["system"] for r in system_rows})
    groups = sorted({r["group"] for r in system_rows}, key=lambda g: order.index(g) if g in order else 99)
    strata = list(dict.fromkeys(r["stratum"] for r in system_rows))
    fig, axes = plt.subplots(1, len(strata), figsize=((1.3 * len(groups) + 2.2) * len(strata) + 1.2,
                                                      0.38 * len(systems) + 1.8), squeeze=False)
    for ax, st in zip(axes[0], strata, strict=False):
        M = np.full((len(systems), len(groups)), np.nan)
        for r in system_rows:
            if r["stratum"] == st:
                M[systems.index(r["system"]), groups.index(r["group"])] = r["importance"]
        im = ax.imshow(M, cmap="viridis", aspect="auto", vmin=0, vmax=2)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups)
        ax.set_yticks(range(len(systems)))
        ax.set_yticklabels(systems, fontsize=8)
        for i in range(len(systems)):
            for j in range(len(groups)):
                if np.isfinite(M[i, j]):
                    ax.text(j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="w" if M[i, j] < 1.2 else "k")
        ax.set_title(f"stratum: {st}", fontsize=10)
    fig.colorbar(im, ax=list(axes[0]), label="importance (0..2)")
    fig.suptitle("Body-part importance: min-max(drop in r) + min-max(keep-only r), mean over targets", fontsize=10)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


# --- HTML ---------------------------------------------------------------------------------------------
def _html_table(rows: list[dict], columns: list[str], limit: int = 60) -> str:
    def cell(v):
        if isinstance(v, float):
            return "" if not np.isfinite(v) else f"{v:.3g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows[:limit])
    more = f"<p><i>{len(rows) - limit} more rows in the CSV.</i></p>" if len(rows) > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def write_html(out: Path, summary: dict, sections: list[tuple[str, str]], figures: list[Path]) -> Path:
    css = ("body{font-family:sans-serif;margin:24px;max-width:1400px}table{border-collapse:collapse;font-size:12px}"
           "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}"
           ".warn{background:#fff3cd;padding:8px;border:1px solid #e0c060}")
    parts = [f"<html><head><meta charset='utf-8'><title>Probe report</title><style>{css}</style></head><body>",
             "<h1>Gait probe report</h1>"]
    if summary.get("provenance", {}).get("synthetic"):
        parts.append("<p class='warn'>Cohort is synthetic: these numbers validate the method, they are not "
                     "findings about people.</p>")
    parts.append("<pre>" + html.escape(json.dumps(summary, indent=1, default=str)) + "</pre>")
    for f in figures:
        parts.append(f"<h2>{html.escape(f.stem.replace('fig_', '').replace('_', ' '))}</h2><img src='{f.name}'>")
    for title, body in sections:
        parts.append(f"<h2>{html.escape(title)}</h2>{body}")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts))
    return path


def write_report(out: Path, score_rows: list[dict], gain_rows: list[dict], system_rows: list[dict],
                 pred_rows: list[dict], summary: dict, detection: list[dict] | None = None,
                 ablation_rows: list[dict] | None = None, ablation_systems: list[dict] | None = None,
                 detection_by_factor: list[dict] | None = None) -> Path:
    """Write every CSV, figure and the HTML page into ``out``; returns the HTML path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "scores.csv", score_rows)
    write_csv(out / "gain.csv", gain_rows)
    write_csv(out / "systems.csv", system_rows)
    write_csv(out / "predictions.csv", pred_rows)
    if detection:
        write_csv(out / "detection.csv", detection)
    if detection_by_factor:
        write_csv(out / "detection_by_factor.csv", detection_by_factor)
    if ablation_rows:
        write_csv(out / "ablation.csv", ablation_rows)
        write_csv(out / "ablation_systems.csv", ablation_systems or [])
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    figs = [fig_radar(system_rows, out / "fig_gain_radar.png"),
            fig_scatter(pred_rows, "age", out / "fig_age_scatter.png"),
            fig_comparison(score_rows, out / "fig_feature_sets.png"),
            fig_ablation(ablation_systems or [], out / "fig_ablation_heatmap.png")]
    figs = [f for f in figs if f is not None]
    sections = []
    if detection:
        sections.append(("Detection against generator truth", _html_table(
            detection, ["criterion", "feature_set", "stratum", "n_with_signal", "detected_with_signal", "rate_with_signal",
                        "n_without_signal", "detected_without_signal", "rate_without_signal"])))
    if detection_by_factor:
        sections.append(("Detection by the generator's gait-linked factor (either stratum)", _html_table(
            detection_by_factor, ["criterion", "feature_set", "factor", "n_phenotypes", "detected"])))
    key = [r for r in score_rows if r["model"] == "gait" and r["system"] == "covariate"]
    sections.append(("Covariates predicted from gait alone", _html_table(
        key, ["feature_set", "stratum", "target", "score_mean", "score_sd", "r2_mean", "mae_mean", "n"])))
    sections.append(("Per-system summary", _html_table(
        system_rows, ["feature_set", "stratum", "system", "n_targets", "n_significant", "median_gain"], 200)))
    g = sorted(gain_rows, key=lambda r: (r["feature_set"], r["stratum"], -r["gain"] if np.isfinite(r["gain"]) else 0))
    sections.append(("Predictive gain per target", _html_table(
        g, ["feature_set", "stratum", "target", "score_cov", "score_full", "gain", "gain_sd", "p", "q", "p_boot",
            "q_boot", "significant_paper", "significant"], 400)))
    if ablation_systems:
        sections.append(("Body-part importance per system", _html_table(
            ablation_systems, ["feature_set", "stratum", "system", "group", "importance"], 200)))
    return write_html(out, summary, sections, figs)
