"""The checkpoint store: a local folder and S3 (moto's server) behave the same; the ``latest`` pointer
moves only after the checkpoint it names is complete; old checkpoints are pruned."""

from __future__ import annotations

import json
import uuid

import pytest

from gaitcore.model.store import CheckpointStore, LocalStore, StoreError, open_store


@pytest.fixture
def s3_env(moto_s3, monkeypatch):
    import boto3

    monkeypatch.setenv("GAIT_S3_ENDPOINT_URL", moto_s3)
    monkeypatch.setenv("GAIT_S3_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"ckpt-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["local", "s3"])
def store_url(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "store")
    return f"s3://{request.getfixturevalue('s3_env')}/runs/r1"


def test_write_moves_pointer_and_prunes(store_url):
    cs = CheckpointStore.open(store_url, keep=2)
    assert cs.latest() is None
    for step in (10, 20, 30):
        ptr = cs.write(step, f"weights at {step}".encode(), run_id="r")
        assert cs.latest() == ptr and ptr["step"] == step
        assert cs.read(ptr["key"]) == f"weights at {step}".encode()
    keys = cs.store.list("checkpoints/")
    assert [k.split("-")[1] for k in keys] == ["00000020", "00000030"]  # the oldest was pruned
    again = CheckpointStore.open(store_url)  # a restarted process sees the same pointer
    assert again.latest()["key"] == ptr["key"] and again.latest()["run_id"] == "r"


class _DiesDuringUpload(LocalStore):
    """A store whose checkpoint upload is cut off (the process died mid-write)."""

    def put(self, key, data):
        if key.startswith("checkpoints/") and b"step 2" in data:
            raise OSError("connection lost mid-upload")
        super().put(key, data)


def test_pointer_is_never_ahead_of_a_complete_checkpoint(tmp_path):
    cs = CheckpointStore(_DiesDuringUpload(tmp_path / "s"))
    first = cs.write(1, b"step 1")
    with pytest.raises(OSError):
        cs.write(2, b"step 2")
    assert cs.latest() == first and cs.read(first["key"]) == b"step 1"
    assert cs.store.list("checkpoints/") == [first["key"]]


def test_local_put_leaves_no_temp_file_and_replaces_whole(tmp_path):
    st = LocalStore(tmp_path)
    st.put("latest", b"a" * 1000)
    st.put("latest", b"b")
    assert st.get("latest") == b"b" and sorted(p.name for p in tmp_path.iterdir()) == ["latest"]


def test_bad_urls_and_pointers_are_explained(tmp_path):
    with pytest.raises(StoreError, match="unsupported checkpoint store"):
        open_store("gs://bucket/x")
    with pytest.raises(StoreError, match="names a bucket"):
        open_store("s3:///x")
    (tmp_path / "latest").write_text("not json")
    with pytest.raises(StoreError, match="not a JSON pointer"):
        CheckpointStore.open(tmp_path).latest()
    (tmp_path / "latest").write_text(json.dumps({"key": "checkpoints/gone.pt", "step": 3}))
    with pytest.raises(StoreError, match="does not exist"):
        cs = CheckpointStore.open(tmp_path)
        cs.read(cs.latest()["key"])


def test_missing_bucket_is_a_store_error(s3_env):
    with pytest.raises(StoreError, match="no-such-bucket"):
        CheckpointStore.open("s3://no-such-bucket-xyz/p").write(1, b"x")
