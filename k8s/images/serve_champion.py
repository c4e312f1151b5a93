"""Prepare a TorchServe pod: fetch the champion GaitMAE model archive from storage, write config.properties.

Runs as the TorchServe pod's initContainer (``entrypoint.sh serve-fetch``); the main container then starts
TorchServe on what this wrote (``entrypoint.sh serve``).

With ``GAIT_TORCHSERVE_SERVED_POINTER`` set (the served set, ``serving.served``), the pod starts with that
set's default archive (SHA-256 checked) and TorchServe's model API on (loopback only): the pod's sync
sidecar (``entrypoint.sh serve-sync``) registers the set's other versions and follows later changes. While
no served set exists yet (and when it names no default) the champion below is loaded. Without the pointer a
pod serves exactly the archive it fetched at start: promotion = point ``GAIT_SERVING_ARCHIVE`` at the new
archive and roll the Deployment (docs/deploy.md).

Environment (besides the storage variables of platform/gaitsite/config.py: ``GAIT_STORAGE``,
``GAIT_S3_BUCKET``, ``GAIT_S3_ENDPOINT_URL``, ``GAIT_S3_REGION``, ``AWS_*``, ``GAIT_MEDIA_ROOT``):
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# name -> (default, meaning); the k8s tests check the manifests set only variables some code reads
VARIABLES: dict[str, tuple[str, str]] = {
    "GAIT_SERVING_ARCHIVE": ("models/gaitmae/champion", "storage key of the champion `.mar`, or of a pointer "
                             "object whose text is that key (a key not ending in `.mar` is a pointer)"),
    "GAIT_SERVE_DIR": ("/srv/serve", "where config.properties and model-store/ are written (an emptyDir)"),
    "GAIT_SERVE_MODEL_NAME": ("gaitmae", "TorchServe model name (the client's URL path)"),
    "GAIT_SERVE_PORT": ("8380", "inference port (all interfaces); management, metrics and gRPC stay on loopback"),
    "GAIT_SERVE_WORKERS": ("1", "TorchServe workers of the model (one per GPU, or per core on CPU)"),
    "GAIT_SERVE_BATCH_SIZE": ("8", "TorchServe batch size"),
    "GAIT_SERVE_MAX_BATCH_DELAY_MS": ("20", "longest wait to fill a batch"),
    "GAIT_SERVE_HEAP_MB": ("512", "Java heap of TorchServe's frontend"),
    "GAIT_SERVE_SYNC_INTERVAL_S": ("10", "seconds between two passes of the serve-sync sidecar over the served set"),
}
__doc__ += "\n".join(f"* ``{k}`` (default ``{d}``): {m}" for k, (d, m) in VARIABLES.items()) + "\n"


def env(name: str) -> str:
    return os.environ.get(name, "").strip() or VARIABLES[name][0]


class Storage:
    """Reads objects from the platform's storage: S3 (production) or the local media folder."""

    def __init__(self) -> None:
        self.kind = os.environ.get("GAIT_STORAGE", "local").strip().lower() or "local"
        if self.kind == "s3":
            import boto3

            self.bucket = os.environ["GAIT_S3_BUCKET"]
            self.client = boto3.client("s3", endpoint_url=os.environ.get("GAIT_S3_ENDPOINT_URL") or None,
                                       region_name=os.environ.get("GAIT_S3_REGION") or "us-east-1")
        else:
            self.root = Path(os.environ.get("GAIT_MEDIA_ROOT") or REPO / "var" / "media")

    def read(self, key: str) -> bytes:
        if self.kind == "s3":
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return (self.root / key).read_bytes()

    def download(self, key: str, target: Path) -> None:
        tmp = target.with_suffix(".part")
        if self.kind == "s3":
            self.client.download_file(self.bucket, key, str(tmp))
        else:
            tmp.write_bytes((self.root / key).read_bytes())
        tmp.replace(target)


def resolve(storage: Storage, key: str) -> str:
    """The archive key: ``key`` itself when it names a .mar, else the key written in the pointer ``key``."""
    if key.endswith(".mar"):
        return key
    target = storage.read(key).decode().strip()
    if not target.endswith(".mar"):
        raise SystemExit(f"pointer {key!r} names {target!r}, which is not a .mar archive")
    return target


def manifest(archive: Path) -> dict:
    with zipfile.ZipFile(archive) as z:
        return json.loads(z.read("MAR-INF/MANIFEST.json"))["model"]


def config_properties(serve_dir: Path, mar_name: str, model_name: str, version: str, model_api: bool = False) -> str:
    from serving.config import ServeConfig

    port = int(env("GAIT_SERVE_PORT"))
    workers = int(env("GAIT_SERVE_WORKERS"))
    cfg = ServeConfig(run_dir=serve_dir, host="127.0.0.1", inference_port=port, management_port=port + 1,
                      metrics_port=port + 2, grpc_inference_port=port + 3, grpc_management_port=port + 4,
                      workers=workers, batch_size=int(env("GAIT_SERVE_BATCH_SIZE")),
                      max_batch_delay_ms=int(env("GAIT_SERVE_MAX_BATCH_DELAY_MS")), heap_mb=int(env("GAIT_SERVE_HEAP_MB")),
                      token_auth=False, load_models=mar_name)
    # Only inference listens beyond the pod; registrations at run time only with the sync sidecar (model_api),
    # through the management API on the pod's loopback.
    text = cfg.render().replace(f"inference_address=http://127.0.0.1:{port}", f"inference_address=http://0.0.0.0:{port}")
    if not model_api:
        text = text.replace("enable_model_api=true", "enable_model_api=false")
    models = {model_name: {version: {"defaultVersion": True, "marName": mar_name, "minWorkers": workers,
                                     "maxWorkers": workers, "batchSize": cfg.batch_size,
                                     "maxBatchDelay": cfg.max_batch_delay_ms, "responseTimeout": cfg.response_timeout}}}
    return text + "models=" + json.dumps(models, separators=(",", ":")) + "\n"


def main() -> int:
    serve_dir = Path(env("GAIT_SERVE_DIR"))
    store = serve_dir / "model-store"
    store.mkdir(parents=True, exist_ok=True)
    model_name = env("GAIT_SERVE_MODEL_NAME")
    pointer = os.environ.get("GAIT_TORCHSERVE_SERVED_POINTER", "").strip()
    served = None
    if pointer:
        from serving.served import pointer_store, read

        pstore, pkey = pointer_store(pointer)
        served = read(pstore, pkey)  # unreadable: the initContainer fails and is retried
    if served and served.get("default"):
        import hashlib

        from serving.archive import archive_name

        entry = served["versions"][served["default"]]
        key = f"{pstore.url}/{entry['archive']}"
        target = store / archive_name(model_name, served["default"])
        print(f"fetching the served set's default {key} -> {target}", file=sys.stderr, flush=True)
        data = pstore.get(entry["archive"])
        if data is None:
            raise SystemExit(f"{key} (the default of {pointer}) does not exist")
        if entry.get("sha256") and hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise SystemExit(f"{key} does not have the SHA-256 the served set records")
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    else:
        storage = Storage()
        key = resolve(storage, env("GAIT_SERVING_ARCHIVE"))
        target = store / Path(key).name
        print(f"fetching {key} -> {target}", file=sys.stderr, flush=True)
        storage.download(key, target)
    meta = manifest(target)
    if meta.get("modelName") != model_name:
        raise SystemExit(f"{key} holds model {meta.get('modelName')!r}, expected {model_name!r}")
    (serve_dir / "config.properties").write_text(
        config_properties(serve_dir, target.name, model_name, meta["modelVersion"], model_api=bool(pointer)))
    print(json.dumps({"archive": key, "model": model_name, "version": meta["modelVersion"],
                      "bytes": target.stat().st_size}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
