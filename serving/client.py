"""The one inference client interface: ``InferenceClient`` and its two implementations.

* :class:`TorchServeClient` -- HTTP to TorchServe's inference API (``/predictions/<model>[/<version>]``),
  with connect/read timeouts, optional Bearer key read from a file, and requests split so that none
  exceeds TorchServe's request-size limit (``max_request_size``, 6.5 MB by default). Requests are sent
  concurrently so TorchServe can batch them.
* :class:`InProcessClient` -- loads the checkpoint with torch in this process.

Both call ``serving.compute.infer`` on the same windows (the handler on the server side), so they return
the same embeddings and reconstruction errors for the same input (tested: max abs diff < 1e-4).

:func:`get_client` picks one from an :class:`InferenceConfig`: the caller's (the workers build it from
their Django settings, ``workers.inference``) or, without one, the ``GAIT_INFERENCE_BACKEND``,
``GAIT_TORCHSERVE_URL``, ``GAIT_TORCHSERVE_TOKEN_FILE`` and ``GAIT_MODEL_CHECKPOINT`` environment
variables. Serving never imports Django; this module imports no torch at import time either (the API
process may import it); ``InProcessClient`` imports torch inside its methods.

Errors: :class:`InferenceUnavailable` (server down, timeout, 5xx, model not loaded: transient, worth a
retry) and :class:`InferenceError` (the request itself is wrong: do not retry).
"""

from __future__ import annotations

import json
import os
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .wire import NPY_CONTENT_TYPE, encode_npy, window_bytes

DEFAULT_MODEL_NAME = "gaitmae"
MAX_REQUEST_BYTES = 6_500_000  # TorchServe's default max_request_size (6.5 MB)


class InferenceUnavailable(RuntimeError):
    """The inference backend cannot answer now (transient: retry later)."""


class InferenceError(RuntimeError):
    """The backend refused the input or answered nonsense (not transient)."""


@dataclass
class InferenceResult:
    """Per-window outputs, in input order, and the model that produced them."""

    embeddings: np.ndarray  # [W, D] float32
    reconstruction_error: np.ndarray  # [W] float32 (normalised units)
    model_name: str
    model_version: str


class InferenceClient(ABC):
    """Embeds model windows (``gaitcore.preprocess`` model input, trimmed to their valid frames)."""

    batch_size: int = 8

    @abstractmethod
    def describe(self) -> dict:
        """``{"model_name", "model_version", "embedding_dim", ...}`` of the model that would answer now."""

    @abstractmethod
    def embed(self, windows: list[np.ndarray], observed: list[np.ndarray]) -> InferenceResult:
        """windows: list of [T_i, 26, 4] float32; observed: list of [T_i, 26] bool."""

    def model_version(self) -> str:
        return str(self.describe()["model_version"])

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def _check_inputs(windows, observed) -> None:
    if len(windows) != len(observed):
        raise InferenceError(f"{len(windows)} windows but {len(observed)} observed masks")
    for w, o in zip(windows, observed, strict=True):
        if w.ndim != 3 or w.shape[1:] != (26, 4) or o.shape != w.shape[:2]:
            raise InferenceError(f"a window must be [T, 26, 4] with observed [T, 26]; got {w.shape} / {o.shape}")


# --- in-process ---------------------------------------------------------------------------------------
class InProcessClient(InferenceClient):
    """Loads a GaitMAE checkpoint (the shipped one by default) in this process; torch is imported lazily."""

    def __init__(self, checkpoint: str | None = None, batch_size: int = 8, threads: int | None = None):
        self.checkpoint = checkpoint or None
        self.batch_size = batch_size
        self.threads = threads
        self._model = None
        self._ckpt = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                import torch

                from gaitcore.model.checkpoint import load_checkpoint

                if self.threads:
                    torch.set_num_threads(self.threads)
                self._ckpt = load_checkpoint(self.checkpoint)
                self._model = self._ckpt.model()
        return self._model, self._ckpt

    def describe(self) -> dict:
        model, ckpt = self._load()
        return {"model_name": DEFAULT_MODEL_NAME, "model_version": ckpt.version_tag,
                "embedding_dim": int(model.cfg.embedding_dim), "config": ckpt.config.name,
                "preprocessing": ckpt.preprocessing, "backend": "inprocess"}

    def embed(self, windows, observed) -> InferenceResult:
        from .compute import infer_many

        _check_inputs(windows, observed)
        model, ckpt = self._load()
        emb, err = infer_many(model, windows, observed, self.batch_size)
        return InferenceResult(emb, err, DEFAULT_MODEL_NAME, ckpt.version_tag)


# --- TorchServe ---------------------------------------------------------------------------------------
def read_token(path: str | None, kind: str = "inference") -> str | None:
    """The key in ``path``: a plain-text key, or TorchServe's ``key_file.json`` (``{kind: {"key": ...}}``)."""
    if not path:
        return None
    text = Path(path).read_text().strip()
    if text.startswith("{"):
        obj = json.loads(text)
        entry = obj.get(kind) or {}
        return entry.get("key") if isinstance(entry, dict) else str(entry)
    return text or None


class TorchServeClient(InferenceClient):
    """TorchServe's inference API. ``version`` pins a model version (default: the server's default)."""

    def __init__(self, url: str, model_name: str = DEFAULT_MODEL_NAME, version: str | None = None,
                 token_file: str | None = None, connect_timeout: float = 5.0, read_timeout: float = 130.0,
                 max_request_bytes: int = MAX_REQUEST_BYTES, windows_per_request: int = 1, concurrency: int = 16,
                 batch_size: int = 8):
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.version = version
        self.token_file = token_file
        self.timeout = (connect_timeout, read_timeout)
        self.max_request_bytes = max_request_bytes
        self.windows_per_request = max(1, windows_per_request)
        self.concurrency = max(1, concurrency)
        self.batch_size = batch_size
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None

    # -- http plumbing
    def _session(self):
        import requests

        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def _headers(self, content_type: str) -> dict:
        h = {"Content-Type": content_type}
        token = read_token(self.token_file)
        if token:
            h["Authorization"] = f"Bearer {token}"
        return h

    @property
    def endpoint(self) -> str:
        path = f"{self.url}/predictions/{self.model_name}"
        return f"{path}/{self.version}" if self.version else path

    def _post(self, body: bytes, content_type: str) -> dict:
        import requests

        try:
            r = self._session().post(self.endpoint, data=body, headers=self._headers(content_type), timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise InferenceUnavailable(f"TorchServe at {self.url} is unreachable ({type(exc).__name__})") from exc
        if r.status_code in (404, 503, 502, 504, 500, 507) or r.status_code >= 500:
            # 404: the model is not registered (yet); 503: no worker up; 5xx: worker died / timed out
            raise InferenceUnavailable(f"TorchServe answered {r.status_code}: {r.text[:300]}")
        if r.status_code in (401, 403) or (r.status_code == 400 and "InvalidKeyException" in r.text):
            # TorchServe 0.12 answers 400 InvalidKeyException for a missing, wrong or expired key
            raise InferenceUnavailable(f"TorchServe refused the key ({r.status_code}): check the token file "
                                       f"{self.token_file or '(none configured)'}")
        if r.status_code != 200:
            raise InferenceError(f"TorchServe answered {r.status_code}: {r.text[:300]}")
        try:
            obj = r.json()
        except ValueError as exc:
            raise InferenceError(f"TorchServe answered non-JSON: {r.text[:200]!r}") from exc
        if isinstance(obj, dict) and "error" in obj:
            raise InferenceError(f"the GaitMAE handler refused the request: {obj['error']}")
        return obj

    # -- interface
    def describe(self) -> dict:
        return self._post(json.dumps({"describe": True}).encode(), "application/json") | {"backend": "torchserve"}

    def plan_requests(self, windows: list[np.ndarray]) -> list[list[int]]:
        """Index lists, one per request: equal lengths, at most ``windows_per_request`` windows, and
        a body under ``max_request_bytes`` (the .npy header adds < 200 bytes)."""
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(windows):
            by_len.setdefault(int(w.shape[0]), []).append(i)
        out = []
        for t, idx in by_len.items():
            per = max(1, min(self.windows_per_request, (self.max_request_bytes - 1024) // window_bytes(t)))
            if window_bytes(t) + 1024 > self.max_request_bytes:
                raise InferenceError(f"one window of {t} frames ({window_bytes(t)} bytes) exceeds the "
                                     f"request-size limit of {self.max_request_bytes} bytes")
            out.extend(idx[k:k + per] for k in range(0, len(idx), per))
        return out

    def embed(self, windows, observed) -> InferenceResult:
        _check_inputs(windows, observed)
        n = len(windows)
        if n == 0:
            d = self.describe()
            return InferenceResult(np.zeros((0, int(d["embedding_dim"])), np.float32), np.zeros(0, np.float32),
                                   d["model_name"], d["model_version"])
        plans = self.plan_requests(windows)

        def send(idx: list[int]) -> dict:
            body = encode_npy(np.stack([windows[i] for i in idx]), np.stack([observed[i] for i in idx]))
            return self._post(body, NPY_CONTENT_TYPE)

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="torchserve")
        answers = list(self._pool.map(send, plans))
        versions = {a.get("model_version") for a in answers}
        if len(versions) != 1:
            raise InferenceUnavailable(f"the default model version changed during the request: {sorted(map(str, versions))}")
        dim = len(answers[0]["embeddings"][0])
        emb = np.zeros((n, dim), np.float32)
        err = np.zeros(n, np.float32)
        for idx, a in zip(plans, answers, strict=True):
            if len(a["embeddings"]) != len(idx):
                raise InferenceError(f"TorchServe answered {len(a['embeddings'])} embeddings for {len(idx)} windows")
            emb[idx] = np.asarray(a["embeddings"], np.float32)
            err[idx] = np.asarray(a["reconstruction_error"], np.float32)
        return InferenceResult(emb, err, answers[0].get("model_name", self.model_name), versions.pop())

    def ping(self) -> bool:
        import requests

        try:
            return self._session().get(f"{self.url}/ping", headers=self._headers("text/plain"),
                                       timeout=self.timeout).status_code == 200
        except requests.RequestException:
            return False

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


# --- selection ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InferenceConfig:
    """Which backend answers and where: ``inprocess`` (``checkpoint``, empty = the shipped one) or
    ``torchserve`` (``torchserve_url``, ``token_file``)."""

    backend: str = "inprocess"
    torchserve_url: str = ""
    token_file: str = ""
    checkpoint: str = ""

    @classmethod
    def from_env(cls, env=None) -> InferenceConfig:
        env = os.environ if env is None else env
        return cls(backend=env.get("GAIT_INFERENCE_BACKEND") or "inprocess",
                   torchserve_url=env.get("GAIT_TORCHSERVE_URL", ""),
                   token_file=env.get("GAIT_TORCHSERVE_TOKEN_FILE", ""),
                   checkpoint=env.get("GAIT_MODEL_CHECKPOINT", ""))


_cached: dict[tuple, InferenceClient] = {}


def get_client(version: str | None = None, config: InferenceConfig | None = None) -> InferenceClient:
    """The client the configuration chooses (one per process and configuration; the in-process model
    loads once). Without ``config``, :meth:`InferenceConfig.from_env`."""
    config = config or InferenceConfig.from_env()
    if config.backend == "torchserve":
        key = ("torchserve", config.torchserve_url, config.token_file, version)
        if key not in _cached:
            _cached[key] = TorchServeClient(config.torchserve_url, version=version,
                                            token_file=config.token_file or None)
        return _cached[key]
    key = ("inprocess", config.checkpoint)
    if key not in _cached:
        _cached[key] = InProcessClient(config.checkpoint or None)
    return _cached[key]
