"""Bytes stored per session: prints one JSON object (docs/scale.md uses it for storage and cost).

    .venv/bin/python bench/storage.py [--sessions 3] [--seed 5]

For ``--sessions`` synthetic full-protocol sessions (``gaitcore.synth``, 5 tasks, about 6 min each):
``session_bytes`` (the uploaded session file, ``gaitcore.sessionfile.to_bytes``) and ``windows_bytes``
(the preprocess step's ``pipeline/<org>/<session>/windows.npz``, written as ``workers/steps.py`` writes
it: uncompressed ``np.savez`` of the model windows, masks and window metadata), with ``windows`` per
session; means over the sessions.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gaitcore.preprocess import PREPROCESSING_VERSION, model_windows, preprocess  # noqa: E402
from gaitcore.sessionfile import to_bytes  # noqa: E402
from gaitcore.synth.cohort import build_session  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args()
    rows = []
    for i in range(args.sessions):
        print(f"[bench/storage] session {i + 1}/{args.sessions}", file=sys.stderr, flush=True)
        session, _ = build_session(args.seed, i)
        x, mask, wins = model_windows(preprocess(session))
        buf = io.BytesIO()
        np.savez(buf, x=x, mask=mask, n_valid=np.array([w.n_valid for w in wins], np.int64),
                 tasks=np.array([w.task for w in wins]), version=np.array(PREPROCESSING_VERSION))
        rows.append({"session_bytes": len(to_bytes(session)), "windows_bytes": buf.tell(), "windows": len(wins)})
    mean = {k: round(float(np.mean([r[k] for r in rows])), 1) for k in rows[0]}
    print(json.dumps({"sessions": args.sessions, "seed": args.seed, **mean,
                      "total_mb_per_session": round((mean["session_bytes"] + mean["windows_bytes"]) / 1e6, 2),
                      "per_session": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
