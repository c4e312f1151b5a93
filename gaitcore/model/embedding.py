"""GaitMAE embeddings: the paper's pooling of tokens into one vector per window, and the embedding tables
of sessions (per window and per (session, task)).

Pooling: tokens [B, T, J, C] (after the final LayerNorm) -> average the joints inside the 4 regions (legs,
arms, torso, head) -> [B, T, 4, C] -> over the window's valid frames take the mean and the 99th
percentile -> [B, 4, 2, C] -> flattened region-major: (legs mean, legs p99, arms mean, arms p99,
torso mean, torso p99, head mean, head p99), each C values: 4 x 2 x C = 1,024 for C = 128.
Column names: ``<region>_<stat>_<c>`` (see :func:`embedding_columns`).

Tables (:func:`embed_windows`, :func:`embedding_rows`): each window is trimmed to its valid frames,
joints the sensor lacked are zeroed (as in pretraining), encoded, and pooled with :func:`pool` over the
frames that hold data. Rows carry the session id, subject pseudonym, task, window index, the model
version tag and the preprocessing version before the 4 x 2 x dim embedding columns; a (session, task)
row is the median over the task's windows.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch

from ..schemas import EMBEDDING_REGIONS, MODEL26, group_indices
from .checkpoint import Checkpoint
from .data import WindowSet
from .masking import hide_unobserved

REGIONS: tuple[str, ...] = tuple(EMBEDDING_REGIONS)  # legs, arms, torso, head
STATS: tuple[str, ...] = ("mean", "p99")
_REGION_IDX = group_indices(EMBEDDING_REGIONS, MODEL26)


def region_matrix(n_joints: int = MODEL26.size) -> torch.Tensor:
    """[4, J] averaging weights (each row sums to 1 over the region's joints)."""
    m = torch.zeros(len(REGIONS), n_joints)
    for r, name in enumerate(REGIONS):
        idx = _REGION_IDX[name]
        m[r, idx] = 1.0 / len(idx)
    return m


def pool(tokens: torch.Tensor, frame_valid: torch.Tensor | None = None, q: float = 0.99) -> torch.Tensor:
    """tokens [B, T, J, C], frame_valid [B, T] bool (frames to pool; all when None) -> [B, 4 * 2 * C].

    A window without any valid frame pools over all its frames (its embedding is then not meaningful).
    """
    B, T, J, C = tokens.shape
    reg = torch.einsum("rj,btjc->btrc", region_matrix(J).to(tokens), tokens)  # [B, T, 4, C]
    if frame_valid is None:
        frame_valid = torch.ones(B, T, dtype=torch.bool, device=tokens.device)
    fv = frame_valid.clone()
    fv[~fv.any(dim=1)] = True
    w = fv.to(tokens.dtype)[:, :, None, None]  # [B, T, 1, 1]
    mean = (reg * w).sum(1) / w.sum(1)  # [B, 4, C]
    nan = torch.full_like(reg, float("nan"))
    p99 = torch.nanquantile(torch.where(w > 0, reg, nan), q, dim=1)  # [B, 4, C]
    return torch.stack((mean, p99), dim=2).reshape(B, -1)  # [B, 4, 2, C] -> [B, 8C]


def embedding_columns(dim: int) -> list[str]:
    """Names of the 4 x 2 x dim embedding columns, in :func:`pool` order."""
    return [f"{r}_{s}_{c:03d}" for r in REGIONS for s in STATS for c in range(dim)]


# --- embedding tables of sessions ---------------------------------------------------------------------
ID_COLUMNS = ("level", "session_id", "subject", "task", "window", "n_windows", "n_frames",
              "model_version", "preprocessing_version")


def length_batches(n_valid: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Index batches of windows with equal valid length (each window is trimmed to its valid frames)."""
    out = []
    for n in sorted(set(n_valid.tolist()), reverse=True):
        idx = np.flatnonzero(n_valid == n)
        out.extend(idx[k : k + batch_size] for k in range(0, len(idx), batch_size))
    return out


@torch.inference_mode()
def embed_windows(model: torch.nn.Module, ws: WindowSet, batch_size: int = 8, device: str = "cpu") -> np.ndarray:
    """Embeddings [W, 4 * 2 * dim] float32 of the windows of ``ws`` (deterministic: eval mode, no masking)."""
    model.eval()
    out = np.zeros((len(ws), model.cfg.embedding_dim), np.float32)
    for idx in length_batches(ws.n_valid, batch_size):  # equal lengths: results never depend on batching
        L = int(max(ws.n_valid[idx[0]], 1))
        x = torch.from_numpy(ws.x[idx, :L]).to(device)
        obs = torch.from_numpy(ws.observed[idx, :L]).to(device)
        tokens = model.features(hide_unobserved(x, obs))
        out[idx] = pool(tokens, obs.any(dim=-1)).float().cpu().numpy()
    return out


def embedding_rows(ckpt: Checkpoint, ws: WindowSet, emb: np.ndarray) -> list[dict]:
    """Window rows, then one row per (session, task) with the median over its windows."""
    cols = embedding_columns(ckpt.config.dim)
    rows: list[dict] = []
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, (sid, subj, task, k) in enumerate(ws.rows):
        groups.setdefault((sid, subj, task), []).append(i)
        rows.append({"level": "window", "session_id": sid, "subject": subj, "task": task, "window": k,
                     "n_windows": 1, "n_frames": int(ws.n_valid[i]), "model_version": ckpt.version_tag,
                     "preprocessing_version": ws.preprocessing, **dict(zip(cols, emb[i].tolist(), strict=True))})
    for (sid, subj, task), idx in groups.items():
        med = np.median(emb[idx], axis=0)
        rows.append({"level": "task", "session_id": sid, "subject": subj, "task": task, "window": -1,
                     "n_windows": len(idx), "n_frames": int(ws.n_valid[idx].sum()), "model_version": ckpt.version_tag,
                     "preprocessing_version": ws.preprocessing, **dict(zip(cols, med.tolist(), strict=True))})
    return rows


def write_table(rows: list[dict], path: str | os.PathLike, columns: list[str]) -> Path:
    """Write rows as Parquet (``.parquet``) or CSV (``.csv``), chosen by the file's extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"output must end in .parquet or .csv, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns)
            w.writeheader()
            for r in rows:
                w.writerow({k: (f"{v:.7g}" if isinstance(v, float) else v) for k, v in r.items()})
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {c: [r[c] for r in rows] for c in columns}
    arrays = {c: pa.array(v, type=pa.float32() if c not in ID_COLUMNS else None) for c, v in data.items()}
    pq.write_table(pa.table(arrays), path)
    return path
