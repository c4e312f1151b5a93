"""Knobs of the session pipeline, read from the environment on every use (so tests can set them).

| variable | default | meaning |
|---|---|---|
| `GAIT_PREDICTOR` | `gaitcore/probe/predictors/*` | predictor artifact folder(s) (comma-separated); the one fitted on the embedding model version in use predicts |
| `GAIT_PIPELINE_RETRY_FOR_S` | `3600` | retry budget of a step on transient faults (inference server down, storage, database, broker): a duration from the step's first fault |
| `GAIT_PIPELINE_RETRY_BACKOFF_S` | `5` | first retry delay; doubles each retry (half jitter) |
| `GAIT_PIPELINE_RETRY_BACKOFF_MAX_S` | `300` | cap of one retry delay |
| `GAIT_PIPELINE_LEASE_S` | `60` | a running step's lease on its session, renewed every third of it; a dead worker's step is re-queued once it expires |
| `GAIT_PIPELINE_STUCK_AFTER_S` | `1800` | only for brokers the sweeper cannot inspect (not Redis): a sent message not started after this long counts as lost |
| `GAIT_PIPELINE_MAX_ATTEMPTS` | `5` | runs of a session's processing (first + sweeper recoveries of a dead worker or a lost message) before the sweeper fails it |
| `GAIT_PIPELINE_SWEEP_EVERY_S` | `30` | period of the sweeper in the beat schedule |
| `GAIT_BROKER_VISIBILITY_TIMEOUT` | `3600` | Redis: seconds before an unacknowledged message (its worker died) is delivered again; keep it above the longest hard time limit |
| `GAIT_ROLLOUT_BATCH` | `50` | an encoder rollout sends this many sessions at a time (re-embed, predict), the next batch when these finished |
| `GAIT_ROLLOUT_BATCH_TIMEOUT_S` | `900` | a batch not finished after this long: its unfinished sessions are sent again (at most 3 times each, then skipped and named) |
| `GAIT_ROLLOUT_TICK_S` | `2` | period of a rollout's worker tick |
| `GAIT_TORCHSERVE_MANAGEMENT_URL` | | TorchServe's management API (rollouts register and set-default encoder versions there) |
| `GAIT_TORCHSERVE_MODEL_STORE` | | TorchServe's model store folder, where a rollout writes the new encoder's archive |
| `GAIT_TORCHSERVE_SERVED_POINTER` | | cluster mode: the served set (`serving.served`; URL or key of the platform's storage, e.g. `models/gaitmae/served.json`) that every TorchServe pod's sync sidecar follows; set, a rollout writes archives and the default there instead of calling the management API |
| `GAIT_TORCHSERVE_SYNC_TIMEOUT_S` | `900` | cluster mode: longest wait, after a rollout added its encoder to the served set, for inference to answer `/predictions/gaitmae/<version>` before the rollout fails |
| `GAIT_PIPELINE_DELAY` | | fault injection for tests: `step:seconds[,step:seconds]` sleeps inside a step before it writes (`job-progress`: after each progress write of a training job) |
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PREDICTOR_DIR = REPO / "gaitcore" / "probe" / "predictors"

# soft / hard time limits per step (seconds)
TIME_LIMITS: dict[str, tuple[int, int]] = {
    "validate": (120, 180), "preprocess": (300, 360), "features": (300, 360),
    "embed": (900, 960), "predict": (120, 180), "aggregate": (120, 180),
}


def _int(name: str, default: int) -> int:
    try:
        return int(float(os.environ.get(name, "") or default))
    except ValueError:
        return default


def retry_for_s() -> float:
    return float(os.environ.get("GAIT_PIPELINE_RETRY_FOR_S", "") or 3600)


def lease_s() -> float:
    return float(os.environ.get("GAIT_PIPELINE_LEASE_S", "") or 60)


def backoff_s() -> float:
    return float(os.environ.get("GAIT_PIPELINE_RETRY_BACKOFF_S", "") or 5)


def backoff_max_s() -> float:
    return float(os.environ.get("GAIT_PIPELINE_RETRY_BACKOFF_MAX_S", "") or 300)


def stuck_after_s() -> int:
    return _int("GAIT_PIPELINE_STUCK_AFTER_S", 1800)


def max_attempts() -> int:
    return _int("GAIT_PIPELINE_MAX_ATTEMPTS", 5)


def sweep_every_s() -> int:
    return _int("GAIT_PIPELINE_SWEEP_EVERY_S", 30)


def visibility_timeout() -> int:
    return _int("GAIT_BROKER_VISIBILITY_TIMEOUT", 3600)


def predictor_dirs() -> list[Path]:
    raw = os.environ.get("GAIT_PREDICTOR", "").strip()
    if raw:
        return [Path(p.strip()) for p in raw.split(",") if p.strip()]
    if DEFAULT_PREDICTOR_DIR.is_dir():
        return sorted(p.parent for p in DEFAULT_PREDICTOR_DIR.glob("*/predictor.json"))
    return []


def injected_delay(step: str) -> float:
    for part in os.environ.get("GAIT_PIPELINE_DELAY", "").split(","):
        name, _, secs = part.partition(":")
        if name.strip() == step and secs:
            return float(secs)
    return 0.0


def rollout_batch() -> int:
    return max(1, _int("GAIT_ROLLOUT_BATCH", 50))


def rollout_batch_timeout_s() -> float:
    return float(os.environ.get("GAIT_ROLLOUT_BATCH_TIMEOUT_S", "") or 900)


def rollout_tick_s() -> float:
    return float(os.environ.get("GAIT_ROLLOUT_TICK_S", "") or 2)


def torchserve_management() -> tuple[str, str]:
    """(management URL, model store folder) for rollouts on the TorchServe backend."""
    return os.environ.get("GAIT_TORCHSERVE_MANAGEMENT_URL", ""), os.environ.get("GAIT_TORCHSERVE_MODEL_STORE", "")


def torchserve_served_pointer() -> str:
    """The served-set pointer of a cluster's TorchServe pods ('' = talk to one TorchServe's management API)."""
    return os.environ.get("GAIT_TORCHSERVE_SERVED_POINTER", "").strip()


def torchserve_sync_timeout_s() -> float:
    return float(os.environ.get("GAIT_TORCHSERVE_SYNC_TIMEOUT_S", "") or 900)
