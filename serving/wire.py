"""The request/response format between the inference client and the TorchServe handler (numpy only).

One request carries one or more windows **of equal length** ``T``:

* binary: an ``.npy`` array (``Content-Type: application/x-npy``), float32 ``[W, T, 26, 5]``: the four
  model-input channels (x, y, z, confidence; ``gaitcore.preprocess`` normalisation) and the
  ``observed`` flag (1.0 where the sensor had data). A ``[W, T, 26, 4]`` array is accepted too; then
  ``observed`` = confidence > 0. A single window may be sent as ``[T, 26, C]``.
* JSON (``Content-Type: application/json`` exactly, so TorchServe parses it): ``{"x": [[[...]]],
  "observed": [...]?}`` with the same shapes as nested lists, or ``{"describe": true}`` which answers
  the served model's description instead of running it.

The response (JSON, one per request): ``{"model_name", "model_version", "embedding_dim",
"embeddings": [[D floats] * W], "reconstruction_error": [W floats]}``. A request the handler cannot
read gets ``{"error": "..."}``.
"""

from __future__ import annotations

import io

import numpy as np

N_JOINTS, N_CHANNELS = 26, 4
NPY_CONTENT_TYPE = "application/x-npy"


class WireError(ValueError):
    """A request body that is not a batch of model windows."""


def pack(x: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """x [W, T, 26, 4] + observed [W, T, 26] -> float32 [W, T, 26, 5]."""
    return np.concatenate([np.asarray(x, np.float32), np.asarray(observed, np.float32)[..., None]], axis=-1)


def encode_npy(x: np.ndarray, observed: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, pack(x, observed), allow_pickle=False)
    return buf.getvalue()


def unpack(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float array [W, T, 26, 4|5] (or one window [T, 26, 4|5]) -> (x float32, observed bool)."""
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[2] != N_JOINTS or arr.shape[3] not in (N_CHANNELS, N_CHANNELS + 1):
        raise WireError(f"expected windows [W, T, {N_JOINTS}, 4 or 5], got shape {list(arr.shape)}")
    if arr.shape[1] < 1:
        raise WireError("windows must have at least one frame")
    if not np.isfinite(arr).all():
        raise WireError("windows contain NaN or infinite values")
    x = np.ascontiguousarray(arr[..., :N_CHANNELS])
    observed = arr[..., N_CHANNELS] > 0.5 if arr.shape[3] == N_CHANNELS + 1 else arr[..., 3] > 0
    return x, observed


def decode_npy(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        arr = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is a bad request
        raise WireError(f"body is not a .npy array ({type(exc).__name__}: {exc})") from None
    return unpack(arr)


def decode_json(obj: dict) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(obj, dict) or "x" not in obj:
        raise WireError('JSON body must be an object with "x" (and optionally "observed")')
    try:
        x = np.asarray(obj["x"], dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise WireError(f'"x" is not a numeric array: {exc}') from None
    if x.ndim == 3:
        x = x[None]
    if "observed" in obj and obj["observed"] is not None:
        obs = np.asarray(obj["observed"], dtype=np.float32)
        if obs.ndim == 2:
            obs = obs[None]
        if obs.shape != x.shape[:3]:
            raise WireError(f'"observed" has shape {list(obs.shape)}, expected {list(x.shape[:3])}')
        return unpack(np.concatenate([x, obs[..., None]], axis=-1)) if x.ndim == 4 else unpack(x)
    return unpack(x)


def window_bytes(t: int) -> int:
    """Bytes of one packed window of ``t`` frames in the .npy body."""
    return t * N_JOINTS * (N_CHANNELS + 1) * 4
