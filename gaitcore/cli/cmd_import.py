"""``gaitfm import``: recordings -> session files, one per input recording, with a per-file report."""

from __future__ import annotations

import argparse
import sys
import time

NAME = "import"
HELP = "import recordings (Azure Kinect JSON/MKV, Kinect v2, Kinect v1, CSV) into session files"

_FORMATS = ("azure-json", "azure-mkv", "kinect-v2", "kinect-v1", "csv")  # = gaitcore.importers.FORMATS
_TASKS = ("treadmill_3kmh", "treadmill_self_selected", "walk_in_place", "sit_to_stand", "romberg_eyes_closed",
          "overground_walk")  # = gaitcore.schemas.TASKS (kept literal: no imports at module level)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="IN", help="recording files or folders (searched recursively)")
    p.add_argument("--format", "-f", dest="fmt", required=True, choices=_FORMATS, help="input format")
    p.add_argument("--task", choices=_TASKS, help="protocol task of every recording (one segment each)")
    p.add_argument("--subject", help="subject pseudonym (default: the name of each file's parent folder)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the session files")
    p.add_argument("--max-file-mb", type=float, default=None, help="reject input files larger than this (MB)")
    p.add_argument("--max-minutes", type=float, default=None, help="reject recordings longer than this")
    p.add_argument("--min-seconds", type=float, default=None,
                   help="reject recordings with fewer usable seconds than this (default 2)")
    p.add_argument("--quiet", "-q", action="store_true", help="only print rejections and the summary")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import GaitCoreError, SDKNotInstalledError, ValidationError
    from ..importers import iter_recordings, read_recording
    from ..sessionfile import SUFFIX, write_session
    from ..validation import DEFAULT_LIMITS, Limits

    limits = Limits(
        max_file_bytes=int(args.max_file_mb * 1e6) if args.max_file_mb else DEFAULT_LIMITS.max_file_bytes,
        max_duration_s=args.max_minutes * 60 if args.max_minutes else DEFAULT_LIMITS.max_duration_s,
        min_usable_s=args.min_seconds if args.min_seconds is not None else DEFAULT_LIMITS.min_usable_s,
    )
    out = Path(args.output)
    missing = [p for p in args.inputs if not Path(p).exists()]
    for p in missing:
        print(f"rejected  {p}: no such file or folder")
    files = list(iter_recordings([p for p in args.inputs if Path(p).exists()], args.fmt))
    total = len(files)
    if total == 0 and not missing:
        print(f"no {args.fmt} files found in {', '.join(args.inputs)}", file=sys.stderr)
    counts = {"imported": 0, "repaired": 0, "rejected": len(missing)}
    reasons: dict[str, int] = {}
    used: set[str] = set()
    t0 = time.perf_counter()
    width = len(str(total))
    tty = sys.stderr.isatty()
    sdk_missing = False
    for i, f in enumerate(files, 1):
        tag = f"[{i:>{width}}/{total}]"
        if sdk_missing:  # same answer for every .mkv: say it once in full
            counts["rejected"] += 1
            reasons["sdk_not_installed"] += 1
            print(f"{tag} rejected  {f}: Azure Kinect SDKs not installed (see above)")
            continue
        try:
            res = read_recording(f, args.fmt, subject=args.subject, task=args.task, limits=limits)
            target = out / _out_name(f, used, SUFFIX)
            write_session(res.session, target)
        except SDKNotInstalledError as exc:
            counts["rejected"] += 1
            reasons["sdk_not_installed"] = reasons.get("sdk_not_installed", 0) + 1
            sdk_missing = True
            print(f"{tag} rejected  {f}: {exc}")
            continue
        except ValidationError as exc:
            counts["rejected"] += 1
            reasons[exc.code] = reasons.get(exc.code, 0) + 1
            print(f"{tag} rejected  {f}: [{exc.code}] {_strip_file(str(exc), f)}")
            continue
        except (GaitCoreError, OSError, ValueError) as exc:
            counts["rejected"] += 1
            reasons["error"] = reasons.get("error", 0) + 1
            print(f"{tag} rejected  {f}: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one odd file must never stop a batch
            counts["rejected"] += 1
            reasons["internal_error"] = reasons.get("internal_error", 0) + 1
            print(f"{tag} rejected  {f}: internal error, please report: {type(exc).__name__}: {exc}")
            continue
        counts[res.status] += 1
        if not args.quiet:
            detail = f" ({'; '.join(res.repairs)})" if res.repairs else ""
            print(f"{tag} {res.status:<9} {f} -> {target}{detail}")
            for w in res.warnings:
                print(f"{' ' * len(tag)}   note: {w}")
        if tty and total > 50 and i % 25 == 0:
            print(f"\r{i}/{total} files, {time.perf_counter() - t0:.1f} s", end="", file=sys.stderr, flush=True)
    if tty and total > 50:
        print(file=sys.stderr)
    dt = time.perf_counter() - t0
    why = (" (rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) + ")") if reasons else ""
    print(
        f"summary: {counts['imported']} imported, {counts['repaired']} repaired, {counts['rejected']} rejected "
        f"of {total + len(missing)} file(s) in {dt:.1f} s{why}"
    )
    return 0 if counts["imported"] + counts["repaired"] > 0 else 1


def _strip_file(msg: str, f) -> str:
    """The file is already on the line: drop '(file X, ...)' down to the frame/joint part."""
    return msg.replace(f"file {f}, ", "").replace(f" (file {f})", "")


def _out_name(path, used: set[str], suffix: str) -> str:
    """Session file name from the input name (``.csv.gz`` etc. removed), unique within this run."""
    name = path.name
    for ext in (".gz", ".json", ".mkv", ".csv", ".txt", ".tsv"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    base, k = name, 2
    while name in used:
        name = f"{base}-{k}"
        k += 1
    used.add(name)
    return name + suffix
