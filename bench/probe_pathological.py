"""6-class pathological gait classification on kinect2_pathological, subjects held out.

    python bench/probe_pathological.py /path/to/kinect2_pathological [--embeddings EMB] [--work DIR]

Prints ONE JSON object on stdout (progress on stderr). Each file (one Kinect v2 view of one walk,
54-290 frames) is imported (gaitcore.importers, format kinect-v2, task overground_walk) and turned
into three representations:

* ``features``   -- engineered gait features (gaitcore.features.compute_task_features);
* ``naive``      -- per-joint position statistics of the normalised skeleton (gaitcore.probe.naive);
* ``embeddings`` -- optional: a table written by ``gaitfm embed`` (rows per window or per session-task;
  matched to files by the importer's session id or by the file stem, median over windows).

Classifier: median imputation + StandardScaler + multinomial L2 logistic regression, C chosen by
inner grouped CV (4 folds); outer CV = leave-one-subject-out over the 10 actors, so no person is ever
in both training and test. Accuracy is reported per file and per walk (mean class probabilities over
the walk's views), with balanced accuracy and the confusion matrix. Files the importer rejects (the
data set's corrupt files) are counted and left out. ``--work`` caches the per-file tables as CSV.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

CS = (0.01, 0.1, 1.0, 10.0)


def extract(root: Path, rows: list[dict], work: Path | None) -> tuple[list[dict], dict[str, tuple[list[str], np.ndarray]]]:
    """Per-file metadata and the features / naive matrices (cached in ``work``)."""
    from gaitcore.features import FEATURE_NAMES, compute_task_features
    from gaitcore.importers import read_recording
    from gaitcore.preprocess import preprocess
    from gaitcore.probe.naive import NAIVE_COLUMNS, naive_stats

    cache = work / "pathological_tables.npz" if work else None
    if cache and cache.exists():
        z = np.load(cache, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return meta, {"features": (list(z["features_cols"]), z["features"]), "naive": (list(z["naive_cols"]), z["naive"])}
    meta, F, N = [], [], []
    t0 = time.perf_counter()
    for i, r in enumerate(rows, 1):
        try:
            res = read_recording(root / r["file"], "kinect-v2", task="overground_walk")
            s = res.session
            fs = compute_task_features(s, "overground_walk")
            pre = preprocess(s)
            nv = naive_stats(pre.model_input, pre.mask)
        except Exception as exc:  # the data set's corrupt files: rejected, counted
            meta.append({**r, "status": f"rejected: {type(exc).__name__}"})
            continue
        meta.append({**r, "status": "ok", "session_id": s.session_id, "stem": Path(r["file"]).name.split(".")[0]})
        F.append([fs.values.get(n, np.nan) for n in FEATURE_NAMES])
        N.append(nv)
        if i % 100 == 0 or i == len(rows):
            print(f"[{i}/{len(rows)}] {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    tables = {"features": (list(FEATURE_NAMES), np.asarray(F, float)), "naive": (list(NAIVE_COLUMNS), np.asarray(N, float))}
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, meta=json.dumps(meta), features=tables["features"][1], features_cols=np.array(FEATURE_NAMES),
                 naive=tables["naive"][1], naive_cols=np.array(NAIVE_COLUMNS))
    return meta, tables


def embeddings_for(path: str, ok_meta: list[dict], root: Path) -> tuple[list[str], np.ndarray, int]:
    """Embedding rows matched to files by session id (as ``gaitfm embed --format kinect-v2`` imports them,
    i.e. without a task) or file stem; unmatched files get NaN rows."""
    from gaitcore.importers import read_recording
    from gaitcore.probe.tables import read_table, session_matrix

    sm = session_matrix(read_table(path), "mean")
    pos = {str(s): i for i, s in enumerate(sm.session_ids)}
    X = np.full((len(ok_meta), sm.X.shape[1]), np.nan)
    hit = 0
    for k, m in enumerate(ok_meta):
        keys = [m["session_id"], m["stem"]]
        if not any(x in pos for x in keys):
            try:
                keys.append(read_recording(root / m["file"], "kinect-v2").session.session_id)
            except Exception:  # noqa: BLE001 - rejected files simply stay unmatched
                pass
        for key in keys:
            if key in pos:
                X[k] = sm.X[pos[key]]
                hit += 1
                break
    return sm.columns, X, hit


def classify(X: np.ndarray, y: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """Leave-one-subject-out class probabilities ``[n, n_classes]`` (C by inner grouped 4-fold CV)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from gaitcore.probe.cv import grouped_fold_ids, standardise

    classes = np.unique(y)
    P = np.full((len(y), len(classes)), np.nan)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for s in np.unique(subjects):
            tr, te = subjects != s, subjects == s
            inner = grouped_fold_ids(subjects[tr], 4, rng)
            loss = np.zeros(len(CS))
            for j in range(4):
                a, b = inner != j, inner == j
                Xa, Xb = standardise(X[tr][a], X[tr][b])
                m = LogisticRegression(C=CS[0], max_iter=300, tol=1e-3, warm_start=True)
                for ci, C in enumerate(CS):  # ascending C, warm-started along the path
                    m.set_params(C=C).fit(Xa, y[tr][a])
                    p = np.clip(m.predict_proba(Xb), 1e-9, 1)
                    idx = np.searchsorted(m.classes_, y[tr][b])
                    loss[ci] -= np.log(p[np.arange(len(idx)), idx]).sum()
            C = CS[int(np.argmin(loss))]
            Xa, Xb = standardise(X[tr], X[te])
            m = LogisticRegression(C=C, max_iter=500, tol=1e-3).fit(Xa, y[tr])
            P[np.ix_(te, np.searchsorted(classes, m.classes_))] = m.predict_proba(Xb)
    return P


def summarise(P: np.ndarray, y: np.ndarray, walks: np.ndarray) -> dict:
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    classes = np.unique(y)
    pred = classes[np.nanargmax(P, axis=1)]
    wk = np.unique(walks)
    Pw = np.stack([np.nanmean(P[walks == w], axis=0) for w in wk])
    yw = np.array([y[walks == w][0] for w in wk])
    predw = classes[np.argmax(Pw, axis=1)]
    return {"accuracy_file": round(float((pred == y).mean()), 4),
            "balanced_accuracy_file": round(float(balanced_accuracy_score(y, pred)), 4),
            "accuracy_walk": round(float((predw == yw).mean()), 4), "n_files": int(len(y)), "n_walks": int(len(wk)),
            "per_subject_accuracy_file": None,
            "confusion_file": {"classes": classes.tolist(), "matrix": confusion_matrix(y, pred, labels=classes).tolist()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="path to kinect2_pathological (holds manifest.csv)")
    ap.add_argument("--embeddings", default=None, help="embedding table of the same files (gaitfm embed)")
    ap.add_argument("--work", default=None, help="folder to cache the per-file tables")
    ap.add_argument("--limit", type=int, default=0, help="at most N files (0 = all; for a smoke run)")
    ap.add_argument("--only", default=None, help="comma-separated representations to classify (default: all)")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # threaded BLAS on the 2 shared cores is slower, not faster
    t0 = time.perf_counter()
    root = Path(args.dataset)
    rows = list(csv.DictReader((root / "manifest.csv").open()))
    if args.limit:
        rows = rows[: args.limit]
    meta, tables = extract(root, rows, Path(args.work) if args.work else None)
    ok = [m for m in meta if m["status"] == "ok"]
    y = np.array([m["gait_class"] for m in ok])
    subjects = np.array([m["subject"] for m in ok])
    walks = np.array([f"{m['subject']}/{m['gait_class']}/{m['walk']}" for m in ok])
    if args.embeddings:
        cols, X, hit = embeddings_for(args.embeddings, ok, root)
        tables["embeddings"] = (cols, X)
        print(f"embeddings matched for {hit}/{len(ok)} files", file=sys.stderr)
    results = {}
    only = set(args.only.split(",")) if args.only else None
    # with embeddings, every representation is scored on the files all of them have (same rows)
    common = np.isfinite(tables["embeddings"][1]).any(axis=1) if "embeddings" in tables else np.ones(len(ok), bool)
    for name, (cols, X) in tables.items():
        if only and name not in only:
            continue
        keep = np.isfinite(X).any(axis=1) & common
        P = classify(X[keep], y[keep], subjects[keep])
        results[name] = {**summarise(P, y[keep], walks[keep]), "n_columns": len(cols)}
        pred = np.unique(y[keep])[np.nanargmax(P, axis=1)]
        results[name]["per_subject_accuracy_file"] = {
            s: round(float((pred[subjects[keep] == s] == y[keep][subjects[keep] == s]).mean()), 3) for s in np.unique(subjects[keep])}
        print(f"{name}: accuracy {results[name]['accuracy_file']:.3f} per file, {results[name]['accuracy_walk']:.3f} per walk",
              file=sys.stderr)
    out = {"dataset": str(root), "files": len(rows), "imported": len(ok),
           "rejected": len(meta) - len(ok), "classes": sorted(set(y.tolist())), "chance": round(1 / len(set(y.tolist())), 4),
           "cv": "leave-one-subject-out (10 actors), inner grouped 4-fold for C", "results": results,
           "wall_seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
