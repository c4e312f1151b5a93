"""The container images' files: the Dockerfile's pins and users, the entrypoint's roles, and the
TorchServe pod's initContainer script run for real against moto's S3 server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile

import pytest

from tests.helpers import REPO
from tests.k8s.manifests import K8S

DOCKERFILE = K8S / "images" / "Dockerfile"
SCRIPT = K8S / "images" / "serve_champion.py"


def test_dockerfile_pins_bases_and_runs_as_non_root():
    text = DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", text, re.M))
    assert set(args) == {"PYTHON_IMAGE", "NGINX_IMAGE"}
    for image in args.values():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), image
        name, digest = image.split("@")
        assert f"{name.split(':')[0]}:{name.split(':')[1]}" in text and digest.split(":")[1] in text.split("ARG")[0]
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", text, re.M)
    assert {s for _, s in stages} == {"build", "collect", "static", "app"}
    # the runtime stages end as a non-root user
    for stage in ("static", "app"):
        body = text.split(f" AS {stage}\n", 1)[1].split("\nFROM ", 1)[0]
        users = re.findall(r"^USER (\S+)$", body, re.M)
        assert users and users[-1].split(":")[0] not in ("root", "0"), stage
    # the CUDA variant is the same target with PyTorch's CUDA index; the python version is the project's
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in text and "whl/cu" in text
    assert "python:3.11" in args["PYTHON_IMAGE"] and '">=3.11,<3.12"' in (REPO / "pyproject.toml").read_text()
    # everything COPY'd from the build context exists
    for src in re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", text, re.M):
        for path in src.split():
            assert (REPO / path).exists(), path


def test_entrypoint_is_valid_sh_and_rejects_unknown_roles():
    entry = K8S / "images" / "entrypoint.sh"
    assert os.access(entry, os.X_OK)
    subprocess.run(["sh", "-n", str(entry)], check=True)
    r = subprocess.run(["sh", str(entry), "no-such-role"], capture_output=True, text=True)
    assert r.returncode == 64 and "unknown role" in r.stderr


def _mar(path, name="gaitmae", version="gaitmae-1-small-test"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("MAR-INF/MANIFEST.json", json.dumps({"model": {"modelName": name, "modelVersion": version,
                                                                  "serializedFile": "model.pt", "handler": "handler.py"}}))
        z.writestr("model.pt", b"weights")
    return path


def _load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve_champion", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _run(env, tmp_path, monkeypatch, capsys):
    """The initContainer's script, in this process (its main() with a clean environment)."""
    for k in list(os.environ):
        if k.startswith(("GAIT_", "AWS_")):
            monkeypatch.delenv(k)
    full = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "GAIT_SERVE_DIR": str(tmp_path / "serve"), **env}
    for k, v in full.items():
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    try:
        code = _load_script().main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        print(exc.code, file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - a crash of the script is a failed initContainer
        code = 1
        print(repr(exc), file=sys.stderr)
    out = capsys.readouterr()
    return _Result(code, out.out, out.err)


@pytest.mark.integration
def test_serve_champion_fetches_the_pointed_archive_from_s3(moto_s3, tmp_path, monkeypatch, capsys):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="gait-k8s-test")
    key = "models/gaitmae/gaitmae-gaitmae-1-small-test.mar"
    s3.put_object(Bucket="gait-k8s-test", Key=key, Body=_mar(tmp_path / "a.mar").read_bytes())
    s3.put_object(Bucket="gait-k8s-test", Key="models/gaitmae/champion", Body=(key + "\n").encode())
    env = {"GAIT_STORAGE": "s3", "GAIT_S3_BUCKET": "gait-k8s-test", "GAIT_S3_ENDPOINT_URL": moto_s3,
           "GAIT_SERVE_WORKERS": "3", "GAIT_SERVE_BATCH_SIZE": "16"}
    r = _run(env, tmp_path, monkeypatch, capsys)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["archive"] == key and out["version"] == "gaitmae-1-small-test"
    serve = tmp_path / "serve"
    assert (serve / "model-store" / "gaitmae-gaitmae-1-small-test.mar").read_bytes() == (tmp_path / "a.mar").read_bytes()
    props = dict(line.split("=", 1) for line in (serve / "config.properties").read_text().splitlines()
                 if line and not line.startswith("#"))
    assert props["inference_address"] == "http://0.0.0.0:8380"
    for other in ("management_address", "metrics_address", "grpc_inference_address", "grpc_management_address"):
        assert "127.0.0.1" in props[other], other
    assert props["load_models"] == "gaitmae-gaitmae-1-small-test.mar" and props["enable_model_api"] == "false"
    assert props["disable_token_authorization"] == "true"
    models = json.loads(props["models"])["gaitmae"]["gaitmae-1-small-test"]
    assert models["defaultVersion"] is True and models["minWorkers"] == models["maxWorkers"] == 3
    assert models["batchSize"] == 16 and models["marName"] == "gaitmae-gaitmae-1-small-test.mar"

    # a pinned archive key (promotion by manifest) works without the pointer
    r = _run({**env, "GAIT_SERVING_ARCHIVE": key}, tmp_path, monkeypatch, capsys)
    assert r.returncode == 0 and json.loads(r.stdout)["archive"] == key
    # a pointer to something that is not an archive, or an archive of another model, stops the pod
    s3.put_object(Bucket="gait-k8s-test", Key="models/gaitmae/bad", Body=b"models/gaitmae/readme.txt")
    r = _run({**env, "GAIT_SERVING_ARCHIVE": "models/gaitmae/bad"}, tmp_path, monkeypatch, capsys)
    assert r.returncode != 0 and "not a .mar archive" in r.stderr
    r = _run({**env, "GAIT_SERVE_MODEL_NAME": "other"}, tmp_path, monkeypatch, capsys)
    assert r.returncode != 0 and "expected 'other'" in r.stderr
    # and a missing archive fails the initContainer (the pod does not start on nothing)
    r = _run({**env, "GAIT_SERVING_ARCHIVE": "models/gaitmae/missing.mar"}, tmp_path, monkeypatch, capsys)
    assert r.returncode != 0


def test_serve_champion_reads_local_storage_too(tmp_path, monkeypatch, capsys):
    media = tmp_path / "media"
    (media / "models").mkdir(parents=True)
    _mar(media / "models" / "g.mar", version="v2")
    r = _run({"GAIT_STORAGE": "local", "GAIT_MEDIA_ROOT": str(media), "GAIT_SERVING_ARCHIVE": "models/g.mar"}, tmp_path, monkeypatch, capsys)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == "v2"


@pytest.mark.integration
def test_serve_champion_starts_from_the_served_sets_default(moto_s3, tmp_path, monkeypatch, capsys):
    """With GAIT_TORCHSERVE_SERVED_POINTER the pod starts with the served set's default (SHA-256 checked)
    and the model API on for its sync sidecar; with no set yet, with the champion (model API on too)."""
    import hashlib

    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="gait-k8s-set")
    champion = _mar(tmp_path / "c.mar", version="v1").read_bytes()
    s3.put_object(Bucket="gait-k8s-set", Key="models/gaitmae/champion.mar", Body=champion)
    env = {"GAIT_STORAGE": "s3", "GAIT_S3_BUCKET": "gait-k8s-set", "GAIT_S3_ENDPOINT_URL": moto_s3,
           "GAIT_SERVING_ARCHIVE": "models/gaitmae/champion.mar",
           "GAIT_TORCHSERVE_SERVED_POINTER": "models/gaitmae/served.json"}

    def props():
        return dict(line.split("=", 1) for line in (tmp_path / "serve" / "config.properties").read_text().splitlines()
                    if line and not line.startswith("#"))

    r = _run(env, tmp_path, monkeypatch, capsys)  # no served set yet: the champion
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == "v1" and props()["enable_model_api"] == "true"

    v2 = _mar(tmp_path / "v2.mar", version="v2").read_bytes()
    s3.put_object(Bucket="gait-k8s-set", Key="models/gaitmae/gaitmae-v2.mar", Body=v2)
    entry = {"archive": "gaitmae-v2.mar", "sha256": hashlib.sha256(v2).hexdigest(), "bytes": len(v2)}
    served = {"model": "gaitmae", "default": "v2", "versions": {"v2": entry}, "written_at": 1.0}
    s3.put_object(Bucket="gait-k8s-set", Key="models/gaitmae/served.json", Body=json.dumps(served).encode())
    r = _run(env, tmp_path, monkeypatch, capsys)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == "v2"
    assert (tmp_path / "serve" / "model-store" / "gaitmae-v2.mar").read_bytes() == v2
    assert props()["load_models"] == "gaitmae-v2.mar" and props()["enable_model_api"] == "true"
    assert props()["management_address"].startswith("http://127.0.0.1:")  # the sidecar's loopback only

    served["versions"]["v2"]["sha256"] = "0" * 64  # a torn or tampered archive never starts a pod
    s3.put_object(Bucket="gait-k8s-set", Key="models/gaitmae/served.json", Body=json.dumps(served).encode())
    r = _run(env, tmp_path, monkeypatch, capsys)
    assert r.returncode != 0 and "SHA-256" in r.stderr
    s3.put_object(Bucket="gait-k8s-set", Key="models/gaitmae/served.json", Body=b"{torn")
    r = _run(env, tmp_path, monkeypatch, capsys)  # an unreadable set fails the initContainer (retried)
    assert r.returncode != 0 and "not JSON" in r.stderr
