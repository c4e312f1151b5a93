"""Tables in and out of the probes: embeddings, engineered features, naive baseline, phenotypes.

Accepted inputs (by extension):

* ``.csv`` -- header row; identifier columns (below) plus numeric columns. Empty cells are missing.
* ``.npz`` -- ``values`` (or ``embeddings`` / ``X``) ``[N, D]`` float, optional ``columns`` ``[D]``, and
  1-D identifier arrays (``session_id``, ``subject``, ``task``, ``window``). Loaded with
  ``allow_pickle=False``.
* ``.parquet`` -- through pyarrow, same column conventions as CSV.

Identifier columns (aliases accepted): ``session_id`` (``session``), ``subject`` (``subject_id``),
``task``, ``window`` (``window_index``, ``window_idx``). Every other column that parses as numbers is a
value column; other text columns are kept as metadata.

Rows are per window, per (session, task) or per session. :func:`session_matrix` reduces them to one
row per session: median over windows within a (session, task) -- the paper's subject-level embedding
-- then the tasks side by side (``concat``: columns ``task:column``, a task a session lacks is missing
and imputed inside the CV folds) or averaged (``mean``). ``ensemble`` gives the same matrix as
``concat`` plus the column block of every task (``SessionMatrix.blocks``): the probe then fits one model
per task and averages the per-task predictions (the paper's ensemble, docs/science.md#embedding).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ALIASES = {
    "session_id": ("session_id", "session", "sessionid"),
    "subject": ("subject", "subject_id", "participant"),
    "task": ("task",),
    "window": ("window", "window_index", "window_idx"),
}
ID_COLUMNS = tuple(ALIASES)
# bookkeeping columns of `gaitfm embed` that are never features (kept as metadata)
BOOKKEEPING = ("n_windows", "n_frames", "level", "model_version", "preprocessing_version")


@dataclass
class Table:
    """A numeric matrix with identifier/metadata columns."""

    values: np.ndarray  # [N, D] float64, NaN = missing
    columns: list[str]
    meta: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [N] str
    source: str = ""

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def col(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name)]

    def has(self, name: str) -> bool:
        return name in self.columns or name in self.meta


def _canonical_meta(names: list[str]) -> dict[str, str]:
    """Map raw column names to canonical identifier names where they are aliases."""
    out = {}
    for raw in names:
        key = raw.strip().lower()
        for canon, al in ALIASES.items():
            if key in al and canon not in out.values():
                out[raw] = canon
    return out


def _from_columns(cols: dict[str, list], source: str, force_meta: tuple[str, ...] = ()) -> Table:
    canon = _canonical_meta(list(cols))
    meta, num_names, num = {}, [], []
    for name, vals in cols.items():
        if name in canon or name in force_meta or name.strip().lower() in BOOKKEEPING:
            meta[canon.get(name, name)] = np.asarray([("" if v is None else str(v)) for v in vals], dtype=object)
            continue
        try:
            arr = np.array([float(v) if v not in ("", None) else np.nan for v in vals], dtype=np.float64)
        except (TypeError, ValueError):
            meta[name] = np.asarray([("" if v is None else str(v)) for v in vals], dtype=object)
            continue
        num_names.append(name)
        num.append(arr)
    n = len(next(iter(cols.values()))) if cols else 0
    values = np.column_stack(num) if num else np.zeros((n, 0))
    return Table(values, num_names, meta, source)


def read_table(path: str | os.PathLike, force_meta: tuple[str, ...] = ()) -> Table:
    """Read a CSV / NPZ / Parquet table (see module docstring)."""
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".csv.gz") else path.suffix
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            key = next((k for k in ("values", "embeddings", "X", "embedding") if k in z.files), None)
            if key is None:
                raise ValueError(f"{path}: no 'values'/'embeddings' array (found {z.files})")
            values = np.asarray(z[key], dtype=np.float64)
            if values.ndim != 2:
                raise ValueError(f"{path}: {key} must be 2-D, got {values.shape}")
            columns = [str(c) for c in z["columns"]] if "columns" in z.files else [f"e{i}" for i in range(values.shape[1])]
            canon = _canonical_meta([k for k in z.files if k not in (key, "columns")])
            meta = {}
            for raw, c in canon.items():
                arr = z[raw]
                if arr.ndim == 1 and len(arr) == len(values):
                    meta[c] = np.asarray([str(v) for v in arr.tolist()], dtype=object)
        return Table(values, columns, meta, str(path))
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        t = pq.read_table(path)
        canon = _canonical_meta(list(t.column_names))
        meta, names, cols = {}, [], []
        for n in t.column_names:
            c = t.column(n)
            if (pa.types.is_floating(c.type) or pa.types.is_integer(c.type)) and n not in canon \
                    and n not in force_meta and n.lower() not in BOOKKEEPING:
                names.append(n)
                cols.append(c.to_numpy(zero_copy_only=False).astype(np.float64))
            else:
                meta[canon.get(n, n)] = np.asarray(["" if v is None else str(v) for v in c.to_pylist()], dtype=object)
        values = np.column_stack(cols) if cols else np.zeros((t.num_rows, 0))
        return Table(values, names, meta, str(path))
    opener = __import__("gzip").open if suffix == ".csv.gz" else open
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"{path}: empty table")
    header, body = rows[0], rows[1:]
    cols = {h: [r[i] if i < len(r) else "" for r in body] for i, h in enumerate(header)}
    return _from_columns(cols, str(path), force_meta)


def write_csv(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None) -> Path:
    """Write a list of dicts as CSV (floats with 6 significant digits)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if columns is None:
        columns = []
        for r in rows:
            columns += [k for k in r if k not in columns]

    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else f"{float(v):.6g}"
        if isinstance(v, (np.integer, np.bool_)):
            return str(v.item())
        return "" if v is None else str(v)

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([fmt(r.get(c)) for c in columns])
    return path


@dataclass
class SessionMatrix:
    """One row per session: ``X [n, p]`` with its session ids, subjects and column names."""

    session_ids: np.ndarray
    subjects: np.ndarray
    X: np.ndarray
    columns: list[str]
    source: str = ""
    blocks: dict[str, np.ndarray] | None = None  # ensemble: task -> column indices of its block


TASK_MODES = ("concat", "mean", "ensemble")


def session_matrix(table: Table, task_mode: str = "concat", tasks: list[str] | None = None) -> SessionMatrix:
    """Reduce a per-window / per-task table to one row per session (see module docstring)."""
    if task_mode not in TASK_MODES:
        raise ValueError(f"task_mode must be one of {TASK_MODES}, not {task_mode!r}")
    if "level" in table.meta:  # gaitfm embed: window rows + per-task median rows; use the task rows
        lev = table.meta["level"]
        use = lev == "task" if (lev == "task").any() else lev == lev
        table = Table(table.values[use], table.columns, {k: v[use] for k, v in table.meta.items()}, table.source)
    if "session_id" in table.meta:
        sess = table.meta["session_id"]
    elif "subject" in table.meta:
        sess = table.meta["subject"]
    else:
        raise ValueError(f"{table.source}: needs a session_id or subject column")
    subj = table.meta.get("subject", sess)
    task = table.meta.get("task", np.full(len(table), "", dtype=object))
    keep = np.ones(len(table), bool) if tasks is None else np.isin(task, tasks)
    task_names = sorted(set(task[keep].tolist()))
    s_ids, s_first = np.unique(sess[keep], return_index=True)
    s_subj = subj[keep][s_first]
    pos = {s: i for i, s in enumerate(s_ids)}
    D = table.values.shape[1]
    block = np.full((len(task_names), len(s_ids), D), np.nan)
    V, S, K = table.values[keep], sess[keep], task[keep]
    for ti, t in enumerate(task_names):
        m = K == t
        ss = S[m]
        order = np.argsort(ss, kind="stable")
        ss, vv = ss[order], V[m][order]
        bounds = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:], strict=False):
            rows = vv[a:b]
            block[ti, pos[ss[a]]] = rows[0] if b - a == 1 else _nanmedian(rows)
    if task_mode == "mean" or len(task_names) == 1:
        X = _nanmean(block) if len(task_names) > 1 else block[0]
        cols = list(table.columns)
    else:
        X = np.concatenate(list(block), axis=1)
        cols = [f"{t}:{c}" for t in task_names for c in table.columns]
    ok = np.isfinite(X).any(axis=0)  # drop columns missing everywhere
    kept = [c for c, o in zip(cols, ok, strict=False) if o]
    blocks = None
    if task_mode == "ensemble":
        prefix = [c.split(":", 1)[0] for c in kept] if len(task_names) > 1 else [task_names[0] if task_names else ""] * len(kept)
        blocks = {t: np.flatnonzero(np.asarray(prefix, dtype=object) == t) for t in task_names}
        blocks = {t: b for t, b in blocks.items() if len(b)}
    return SessionMatrix(s_ids, s_subj, X[:, ok], kept, table.source, blocks)


def _nanmedian(a: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=0)


def _nanmean(a: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=0)


def model_version(table: Table) -> str | None:
    """The single ``model_version`` of an embedding table (None if absent; error if mixed)."""
    if "model_version" not in table.meta:
        return None
    v = sorted(set(table.meta["model_version"].tolist()) - {""})
    if len(v) > 1:
        raise ValueError(f"{table.source}: embeddings from several model versions {v}")
    return v[0] if v else None


def phenotype_keys(table: Table) -> np.ndarray:
    """Session key per phenotype row: ``session_id`` if present, else ``<subject>_v<visit>`` (the
    synthetic cohort's session ids), else the subject."""
    if "session_id" in table.meta:
        return table.meta["session_id"]
    subj = table.meta["subject"]
    if "visit" in table.columns:
        v = table.col("visit")
        return np.asarray([f"{s}_v{int(x)}" for s, x in zip(subj, v, strict=False)], dtype=object)
    return subj
