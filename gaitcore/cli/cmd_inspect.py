"""``gaitfm inspect SESSION``: a readable summary of a session file and its QC."""

from __future__ import annotations

import argparse

NAME = "inspect"
HELP = "print a session file's subject, sensor, duration, tasks and QC table"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sessions", nargs="+", metavar="SESSION", help="session file(s) (*.gait.npz)")
    p.add_argument("--json", action="store_true", help="print the QC as JSON instead of a table")
    p.add_argument("--all-joints", action="store_true", help="also list joints the sensor does not provide")


def run(args: argparse.Namespace) -> int:
    import json

    from ..errors import SessionFormatError
    from ..qc import session_qc
    from ..sessionfile import read_session

    rc = 0
    for i, path in enumerate(args.sessions):
        try:
            s = read_session(path)
        except SessionFormatError as exc:
            print(f"error: {exc}")
            rc = 1
            continue
        qc = session_qc(s)
        if args.json:
            print(json.dumps({"file": str(path), **qc.to_dict()}, indent=2))
            continue
        if i:
            print()
        print(format_summary(path, s, qc, all_joints=args.all_joints))
    return rc


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def format_summary(path, s, qc, *, all_joints: bool = False) -> str:
    lines = [f"session   {path}"]
    lines.append(f"id        {s.session_id or '-'}")
    lines.append(f"subject   {s.subject}")
    lines.append(f"sensor    {s.sensor}")
    lines.append(f"frames    {s.n_frames} over {s.duration_s:.2f} s ({qc.frame_rate_hz:.1f} Hz)")
    if s.tasks:
        ts = s.timestamps_us
        verdicts = {(t.task, t.start): t for t in getattr(qc, "tasks", [])}
        for seg in s.tasks:
            dur = (ts[seg.end - 1] - ts[seg.start]) / 1e6 if seg.end - seg.start > 1 else 0.0
            t = verdicts.get((seg.task, seg.start))
            verdict = "" if t is None else (" QC passed" if t.passed else f" QC FAILED: {'; '.join(t.issues)}")
            lines.append(f"task      {seg.task}: frames [{seg.start}, {seg.end}) {dur:.2f} s{verdict}")
    else:
        lines.append("task      (none)")
    src = s.metadata.get("source", {}) if isinstance(s.metadata, dict) else {}
    imp = s.metadata.get("import", {}) if isinstance(s.metadata, dict) else {}
    if src:
        lines.append(f"source    {src.get('file', '?')} ({src.get('format', '?')}, {src.get('joint_schema', '?')})")
    if imp:
        lines.append(f"import    {imp.get('status', '?')}")
        for r in imp.get("repairs", []):
            lines.append(f"  repair  {r}")
        for w in imp.get("warnings", []):
            lines.append(f"  note    {w}")
    jit = f"{qc.jitter_mm:.1f} mm" if qc.jitter_mm is not None else "-"
    lines.append(
        f"QC        {qc.joints_provided}/32 joints provided, missing {_pct(qc.fraction_missing).strip()}, "
        f"low confidence {_pct(qc.fraction_low_confidence).strip()}, jitter {jit}, "
        f"repaired frames {qc.repaired_frames}"
    )
    lines.append("")
    lines.append(f"{'joint':<16} {'provided':>8} {'missing':>8} {'low conf':>8} {'jitter mm':>10} {'repaired':>8}")
    for j in qc.joints:
        if not j.provided and not all_joints:
            continue
        jm = f"{j.jitter_mm:10.1f}" if j.jitter_mm is not None else f"{'-':>10}"
        lines.append(
            f"{j.joint:<16} {'yes' if j.provided else 'no':>8} {_pct(j.fraction_missing):>8} "
            f"{_pct(j.fraction_low_confidence):>8} {jm} {j.repaired_frames:>8}"
        )
    hidden = sum(1 for j in qc.joints if not j.provided)
    if hidden and not all_joints:
        lines.append(f"({hidden} joints not provided by the sensor: {', '.join(j.joint for j in qc.joints if not j.provided)})")
    return "\n".join(lines)
