"""``gaitfm synth-report``: validate a synthetic cohort against gait norms and real Kinect walks.

Writes to ``--out``: ``normative.{json,csv,md}``, ``realism.{json,csv,md}``, ``report.md`` and the PNGs
``normative_age.png``, ``realism_stats.png``, ``gait_cycle_curves.png``.
"""

from __future__ import annotations

import argparse

NAME = "synth-report"
HELP = "Compare a synthetic cohort with normative gait ranges and with real Kinect v2 walks (numbers + PNGs)."

NORMS = {  # healthy adults, comfortable speed (see docs/synthetic-cohort.md for the sources)
    "walking_speed_m_s": (1.2, 1.5),
    "cadence_steps_min": (100.0, 125.0),
    "step_length_m": (0.6, 0.8),
    "double_support_pct": (20.0, 30.0),
}
TRUTH_KEYS = {"walking_speed_m_s": ("speed_mps", 1.0), "cadence_steps_min": ("cadence_spm", 1.0),
              "step_length_m": ("step_length_m", 1.0), "double_support_pct": ("double_support_fraction", 100.0)}
# published direction with age: speed and step length fall (Bohannon & Andrews 2011; Oberg et al. 1993),
# cadence changes little (Oberg et al. 1993; Hollman et al. 2011), double support rises (Hollman et al. 2011)
AGE_DIRECTION = {"walking_speed_m_s": -1, "step_length_m": -1, "cadence_steps_min": 0, "double_support_pct": +1}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--synthetic", required=True, help="directory written by `gaitfm synth`")
    parser.add_argument("--real", default=None, help="kinect2_pathological folder (manifest.csv + Pathological_Gaits/)")
    parser.add_argument("--out", required=True, help="output directory for numbers and PNGs")
    parser.add_argument("--max-synthetic", type=int, default=300, help="at most this many synthetic sessions")
    parser.add_argument("--max-real", type=int, default=200, help="at most this many real walk files")


def _segments(session, names):
    from ..sessionfile import Session, TaskSegment

    for name in names:
        segs = [s for s in session.tasks if s.task == name]
        if segs:
            return name, [Session(session.positions[s.start:s.end], session.confidence[s.start:s.end],
                                  session.timestamps_us[s.start:s.end], session.subject, session.sensor,
                                  [TaskSegment(name, 0, s.end - s.start)], session.metadata, session.session_id)
                          for s in segs]
    return None, []


def _body_positions(session):
    from ..preprocess import preprocess

    pre = preprocess(session)
    p = pre.positions.astype(float).copy()
    p[~pre.valid] = float("nan")
    return p


def _md_table(rows: list[dict], cols: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _write_table(out, stem: str, rows: list[dict], cols: list[str], extra: dict | None = None) -> str:
    import csv
    import json

    with open(out / f"{stem}.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    (out / f"{stem}.json").write_text(json.dumps({"rows": rows, **(extra or {})}, indent=1, default=float) + "\n")
    md = _md_table(rows, cols)
    (out / f"{stem}.md").write_text(md)
    return md


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings
    from pathlib import Path

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted((Path(args.synthetic) / "sessions").glob("*.gait.npz"))[: args.max_synthetic]
    if not files:
        print(f"gaitfm synth-report: no session files under {args.synthetic}/sessions", file=sys.stderr)
        return 2
    # (a) normative ranges and age direction (synthetic overground walking)
    recs, syn_stats, syn_curves, walk_task = _synthetic_walks(files)
    if not recs:
        print("gaitfm synth-report: the synthetic sessions have no overground_walk or treadmill_self_selected "
              "task (generate with --tasks overground_walk ...)", file=sys.stderr)
        return 2
    norm_md = _write_table(out, "normative", _normative_rows(recs), NORMATIVE_COLUMNS,
                           {"task": walk_task, "sessions": len(recs)})
    _plot_normative(out, recs, walk_task)
    # (b) realism vs real Kinect v2 walks
    real_stats, real_curves, real_note = _real_walks(args.real, args.max_real) if args.real else ([], {"hip": [], "knee": []}, {})
    real_rows = _realism_rows(syn_stats, real_stats)
    real_md = _write_table(out, "realism", real_rows, REALISM_COLUMNS, {"real": real_note, "synthetic_task": walk_task})
    _plot_realism(out, real_rows)
    # (c) gait-cycle curves
    curve_summary = _plot_gait_cycles(out, syn_curves, real_curves)
    _write_report(out, args, len(recs), walk_task, real_note, norm_md, real_md, curve_summary)
    return 0


def _synthetic_walks(files):
    """Features vs generator truth per session (``recs``), and realism statistics and gait cycles of the
    walks of the first 80 sessions. Returns (recs, walk stats, {"hip", "knee"} cycles, the walk task)."""
    from ..features import compute_task_features
    from ..sessionfile import read_session
    from ..synth import realism

    recs, syn_stats, syn_curves = [], [], {"hip": [], "knee": []}
    walk_task = None
    for f in files:
        s = read_session(f)
        task, walks = _segments(s, ("overground_walk", "treadmill_self_selected"))
        if task is None:
            continue
        walk_task = walk_task or task
        fs = compute_task_features(walks[0], task)
        truth = s.metadata.get("truth", {}).get(task, {})
        cov = s.metadata.get("covariates", {})
        r = {"session": s.session_id, "age": cov.get("age"), "sex": cov.get("sex")}
        for k in NORMS:
            r[k] = fs.values.get(k, float("nan"))
            tk, mult = TRUTH_KEYS[k]
            r[f"truth_{k}"] = truth.get(tk, float("nan")) * mult
        recs.append(r)
        if len(syn_stats) < 80:
            for w in walks:
                syn_stats.append(realism.walk_stats(w))
                c = realism.gait_cycles(_body_positions(w))
                for k in syn_curves:
                    syn_curves[k].extend(c[k])
    return recs, syn_stats, syn_curves, walk_task


NORMATIVE_COLUMNS = ["feature", "source", "n", "median", "p25", "p75", "norm_low", "norm_high", "share_in_norm",
                     "mean_20-39", "mean_40-59", "mean_60-79", "spearman_age", "published_age_direction",
                     "age_direction_ok"]


def _normative_rows(recs: list[dict]) -> list[dict]:
    """Per feature, recovered and true: spread, share inside the normative range, age trend vs published."""
    import numpy as np
    from scipy.stats import spearmanr

    ages = np.array([r["age"] for r in recs], float)
    norm_rows = []
    for k, (lo, hi) in NORMS.items():
        for source, key in (("recovered (features)", k), ("generator truth", f"truth_{k}")):
            v = np.array([r[key] for r in recs], float)
            ok = np.isfinite(v)
            if not ok.any():
                continue
            rho = spearmanr(ages[ok], v[ok]).statistic if ok.sum() > 5 else float("nan")
            bins = {}
            for a0, a1 in ((20, 40), (40, 60), (60, 80)):
                m = ok & (ages >= a0) & (ages < a1)
                bins[f"mean_{a0}-{a1 - 1}"] = float(np.mean(v[m])) if m.any() else float("nan")
            exp = AGE_DIRECTION[k]
            direction_ok = (rho < -0.05) if exp < 0 else (rho > 0.05) if exp > 0 else abs(rho) < 0.3
            norm_rows.append({
                "feature": k, "source": source, "n": int(ok.sum()), "median": float(np.median(v[ok])),
                "p25": float(np.percentile(v[ok], 25)), "p75": float(np.percentile(v[ok], 75)),
                "norm_low": lo, "norm_high": hi,
                "share_in_norm": float(np.mean((v[ok] >= lo) & (v[ok] <= hi))), **bins,
                "spearman_age": float(rho),
                "published_age_direction": {-1: "falls", 0: "~flat", 1: "rises"}[exp],
                "age_direction_ok": bool(direction_ok)})
    return norm_rows


def _plot_normative(out, recs: list[dict], walk_task: str) -> None:
    import numpy as np

    from ..synth.subject import _AGES, _SPEED

    plt = _pyplot()
    ages = np.array([r["age"] for r in recs], float)
    fig, axs = plt.subplots(1, 4, figsize=(18, 4.2))
    for ax, k in zip(axs, NORMS, strict=False):
        v = np.array([r[k] for r in recs], float)
        t = np.array([r[f"truth_{k}"] for r in recs], float)
        lo, hi = NORMS[k]
        ax.axhspan(lo, hi, color="tab:green", alpha=0.12, label="normative range")
        ax.scatter(ages, t, s=8, color="0.6", label="generator truth")
        ax.scatter(ages, v, s=8, color="tab:blue", label="recovered by gaitcore.features")
        if k == "walking_speed_m_s":
            ax.plot(_AGES, _SPEED[True], "k-", lw=1.5, label="Bohannon & Andrews 2011, men")
            ax.plot(_AGES, _SPEED[False], "k--", lw=1.5, label="... women")
        ax.set_xlabel("age (years)")
        ax.set_title(k)
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Synthetic {walk_task} ({len(recs)} sessions) vs normative ranges for healthy adults")
    fig.tight_layout()
    fig.savefig(out / "normative_age.png", dpi=90)
    plt.close(fig)


def _real_walks(real: str, max_real: int):
    """Realism statistics and gait cycles of the clean `normal` walks of kinect2_pathological.
    Returns (walk stats, {"hip", "knee"} cycles, a note on the files used)."""
    import csv
    from pathlib import Path

    from ..errors import ValidationError
    from ..importers import read_recording
    from ..synth import realism

    real_stats, real_curves = [], {"hip": [], "knee": []}
    root = Path(real)
    rows = list(csv.DictReader(open(root / "manifest.csv")))
    normal = [r for r in rows if r["gait_class"] == "normal"]
    flagged = sum(int(r["has_nan_or_outlier"]) for r in normal)
    use = [r for r in normal if r["has_nan_or_outlier"] == "0" and int(r["n_frames"]) >= 60][:max_real]
    repaired = frames = 0
    for r in use:
        try:
            res = read_recording(root / r["file"], "kinect-v2")
        except ValidationError:
            continue
        s = res.session
        frames += s.n_frames
        repaired += int(s.metadata.get("import", {}).get("repaired_frames", 0))
        real_stats.append(realism.walk_stats(s))
        c = realism.gait_cycles(_body_positions(s))
        for k in real_curves:
            real_curves[k].extend(c[k])
    real_note = {"normal_files": len(normal), "files_with_nan_or_absurd_values": flagged,
                 "files_used": len(real_stats), "repaired_frame_share": repaired / max(frames, 1)}
    return real_stats, real_curves, real_note


REALISM_COLUMNS = ["statistic", "synthetic_median", "real_median", "ratio_synth_real", "within_factor_2",
                   "n_synthetic_walks", "n_real_walks"]


def _realism_rows(syn_stats: list[dict], real_stats: list[dict]) -> list[dict]:
    """Per realism statistic: synthetic and real medians and their ratio (within x2 passes)."""
    import numpy as np

    from ..synth import realism

    stat_keys = ["bone_length_cv", "low_conf_share", "knee_range_deg"] + [f"jitter_{g}_mm" for g in realism.JITTER_GROUPS]
    real_rows = []
    for k in stat_keys:
        sv = np.array([d[k] for d in syn_stats], float)
        rv = np.array([d[k] for d in real_stats], float) if real_stats else np.array([np.nan])
        sm = float(np.nanmedian(sv)) if np.isfinite(sv).any() else float("nan")
        rm = float(np.nanmedian(rv)) if np.isfinite(rv).any() else float("nan")
        ratio = sm / rm if rm and np.isfinite(rm) and rm != 0 else float("nan")
        real_rows.append({"statistic": k, "synthetic_median": sm, "real_median": rm, "ratio_synth_real": ratio,
                          "within_factor_2": bool(np.isfinite(ratio) and 0.5 <= ratio <= 2.0),
                          "n_synthetic_walks": int(np.isfinite(sv).sum()), "n_real_walks": int(np.isfinite(rv).sum())})
    return real_rows


def _plot_realism(out, real_rows: list[dict]) -> None:
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    names = [r["statistic"] for r in real_rows]
    ratios = [r["ratio_synth_real"] for r in real_rows]
    ax.bar(range(len(names)), ratios, color=["tab:blue" if r["within_factor_2"] else "tab:red" for r in real_rows])
    for i, r in enumerate(ratios):
        if not np.isfinite(r):
            ax.text(i, 1.0, "n/a:\nreal has no\nconfidence", ha="center", va="center", fontsize=7, color="tab:red")
    ax.axhspan(0.5, 2.0, color="tab:green", alpha=0.12)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("synthetic / real (median)")
    ax.set_title("Realism: synthetic Azure-like walks vs real Kinect v2 walks (green band = within x2)")
    fig.tight_layout()
    fig.savefig(out / "realism_stats.png", dpi=90)
    plt.close(fig)


def _plot_gait_cycles(out, syn_curves: dict, real_curves: dict) -> dict:
    """Mean +- SD hip and knee curves over gait cycles (PNG); returns their summary."""
    import numpy as np

    plt = _pyplot()
    fig, axs = plt.subplots(1, 2, figsize=(12, 4.5))
    g = np.linspace(0, 100, 101)
    curve_summary = {}
    for ax, k, label in zip(axs, ("hip", "knee"), ("hip flexion (thigh vs trunk), deg", "knee flexion, deg"), strict=False):
        for curves, name, col in ((syn_curves[k], "synthetic", "tab:blue"), (real_curves[k], "real Kinect v2", "tab:orange")):
            if len(curves) == 0:
                continue
            c = np.array(curves)
            m, sd = np.mean(c, 0), np.std(c, 0)
            ax.plot(g, m, color=col, lw=2, label=f"{name} (n={len(c)} cycles)")
            ax.fill_between(g, m - sd, m + sd, color=col, alpha=0.2)
            curve_summary[f"{name}_{k}"] = {"n_cycles": len(c), "min": float(m.min()), "max": float(m.max()),
                                            "range": float(np.ptp(m)), "argmax_pct": int(np.argmax(m))}
        ax.set_xlabel("gait cycle (% from heel strike)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Mean +- SD over gait cycles: synthetic vs real (kinect2_pathological, class normal)")
    fig.tight_layout()
    fig.savefig(out / "gait_cycle_curves.png", dpi=90)
    plt.close(fig)
    return curve_summary


def _write_report(out, args, n_sessions: int, walk_task: str, real_note: dict, norm_md: str, real_md: str,
                  curve_summary: dict) -> None:
    import json

    (out / "curves.json").write_text(json.dumps(curve_summary, indent=1) + "\n")
    report = ["# Synthetic cohort validation", "", f"Synthetic: `{args.synthetic}` ({n_sessions} sessions, task "
              f"`{walk_task}`). Real: `{args.real}` {real_note}.", "", "## (a) Normative ranges and age direction", "",
              norm_md, "## (b) Realism vs real Kinect v2 walks", "", real_md, "## (c) Gait-cycle curves", "",
              "```", json.dumps(curve_summary, indent=1), "```", "",
              "PNGs: normative_age.png, realism_stats.png, gait_cycle_curves.png", ""]
    (out / "report.md").write_text("\n".join(report))
    try:
        print(norm_md)
        print(real_md)
        print(json.dumps(curve_summary, indent=1))
    except BrokenPipeError:  # output piped into head
        pass
