"""TorchServe's ``config.properties``, rendered from one template.

Defaults: loopback addresses only, non-default ports (inference 8380, management 8381, metrics 8382, gRPC
8383/8384: TorchServe always opens gRPC too, and two instances on the default 7070/7071 collide),
``vmargs=-Xmx512m``, no config snapshots, 120 s response timeout, 6.5 MB request limit, and the model
API on (``enable_model_api``) so versions can be registered at run time. Token authorisation stays on
(TorchServe's default) unless ``token_auth=False`` (tests only); TorchServe then writes its keys to
``key_file.json`` in the working directory, which ``TORCHSERVE_TOKEN_FILE`` points the client at (the
client re-reads it on every request). Keys expire after ``token_expiration_min`` (30 days here; TorchServe's
default is 60 minutes): restart the server (new keys) before that.
Batching is per model and set when a version is registered (``serving.management``), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TEMPLATE = """\
# GaitMAE TorchServe configuration (rendered by serving/config.py; edit the template, not this file)
inference_address=http://{host}:{inference_port}
management_address=http://{host}:{management_port}
metrics_address=http://{host}:{metrics_port}
grpc_inference_address={host}
grpc_inference_port={grpc_inference_port}
grpc_management_address={host}
grpc_management_port={grpc_management_port}
model_store={model_store}
load_models={load_models}
default_workers_per_model={workers}
job_queue_size={job_queue_size}
default_response_timeout={response_timeout}
max_request_size={max_request_size}
max_response_size={max_response_size}
vmargs=-Xmx{heap_mb}m
enable_model_api=true
disable_token_authorization={disable_token_auth}
token_expiration_min={token_expiration_min}
install_py_dep_per_model=false
enable_envvars_config=false
async_logging=true
"""


@dataclass
class ServeConfig:
    """Everything that goes into config.properties (and the start command)."""

    run_dir: Path
    host: str = "127.0.0.1"
    inference_port: int = 8380
    management_port: int = 8381
    metrics_port: int = 8382
    grpc_inference_port: int = 8383  # TorchServe always opens its gRPC APIs: give them their own ports too
    grpc_management_port: int = 8384
    workers: int = 1
    batch_size: int = 8
    max_batch_delay_ms: int = 20
    job_queue_size: int = 200
    response_timeout: int = 120
    max_request_size: int = 6_815_744  # 6.5 MiB
    max_response_size: int = 6_815_744
    heap_mb: int = 512
    token_auth: bool = True
    token_expiration_min: int = 60 * 24 * 30  # TorchServe's default is 60 min; rotate keys with a restart
    load_models: str = ""

    @property
    def model_store(self) -> Path:
        return Path(self.run_dir) / "model-store"

    @property
    def inference_url(self) -> str:
        return f"http://{self.host}:{self.inference_port}"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    @property
    def key_file(self) -> Path:
        return Path(self.run_dir) / "key_file.json"

    def render(self) -> str:
        text = TEMPLATE.format(host=self.host, inference_port=self.inference_port,
                               management_port=self.management_port, metrics_port=self.metrics_port,
                               grpc_inference_port=self.grpc_inference_port,
                               grpc_management_port=self.grpc_management_port,
                               model_store=self.model_store, load_models=self.load_models or "",
                               workers=self.workers, job_queue_size=self.job_queue_size,
                               response_timeout=self.response_timeout, max_request_size=self.max_request_size,
                               max_response_size=self.max_response_size, heap_mb=self.heap_mb,
                               disable_token_auth=str(not self.token_auth).lower(),
                               token_expiration_min=self.token_expiration_min)
        if not self.load_models:
            text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("load_models=")) + "\n"
        return text

    def write(self) -> Path:
        path = Path(self.run_dir) / "config.properties"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render())
        return path
