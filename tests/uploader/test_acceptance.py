"""Acceptance of ``gait-upload`` against a live platform process and moto's S3 server (issue 9).

Every client command runs in its own process, through a fault-injecting proxy where the test needs
faults; the protocol durations are shortened (``--duration-scale``) and the simulation unpaced.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.uploader.conftest import api, gait_upload, stored_bytes

pytestmark = pytest.mark.integration

PROTOCOL = ["treadmill_3kmh", "treadmill_self_selected", "walk_in_place", "sit_to_stand", "romberg_eyes_closed"]
RECORD = ["record", "--subject", "DEMO-001", "--simulate", "--speed", "0", "--duration-scale", "0.02",
          "--countdown", "0"]


def login(url: str, token: str, env: dict, keep_days: int = 0) -> None:
    out = gait_upload(["login", "--server", url, "--token", token, "--keep-days", str(keep_days)], env)
    assert out.returncode == 0, out.stdout + out.stderr
    config = Path(env["GAIT_UPLOAD_HOME"]) / "config.json"
    assert config.stat().st_mode & 0o777 == 0o600


def queue_rows(env: dict) -> list[dict]:
    db = sqlite3.connect(Path(env["GAIT_UPLOAD_HOME"]) / "queue.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM items ORDER BY id")]
    finally:
        db.close()


def record(env: dict) -> tuple[dict, bytes]:
    out = gait_upload(RECORD, env)
    assert out.returncode == 0, out.stdout + out.stderr
    row = queue_rows(env)[-1]
    assert row["state"] == "queued" and row["tasks"].count('"') == 2 * len(PROTOCOL)
    return row, Path(row["path"]).read_bytes()


def test_simulated_recording_reaches_the_server_with_its_tasks(platform_server, proxy, client_env):
    login(proxy.url, platform_server["token"], client_env)
    row, data = record(client_env)
    out = gait_upload(["push", "--chunk-size", "65536"], client_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 uploaded, 0 rejected" in out.stdout
    row = queue_rows(client_env)[-1]
    assert row["state"] == "uploaded" and row["file_deleted"] == 1 and not Path(row["path"]).exists()
    session = api(platform_server, "GET", f"sessions/{row['server_session']}/").json()
    assert session["tasks"] == PROTOCOL
    assert session["subject_external_id"] == "DEMO-001" and session["sensor"] == "synthetic"
    assert session["sha256"] == row["sha256"]
    assert stored_bytes(platform_server, row["upload_id"]) == data
    status = gait_upload(["status"], client_env)
    assert status.returncode == 0 and str(row["server_session"]) in status.stdout and "DEMO-001" in status.stdout


def test_killed_upload_resumes_and_the_stored_file_is_byte_identical(platform_server, proxy, client_env):
    login(proxy.url, platform_server["token"], client_env, keep_days=-1)
    row, data = record(client_env)
    chunk = 8192
    assert len(data) > 6 * chunk
    proxy.reset(lambda method, kind, n: "hang" if kind == "PUT chunk" and n >= 3 else "pass")
    proc = subprocess.Popen([sys.executable, "-c", "from uploader.cli import main; main()", "push", "--chunk-size",
                             str(chunk)], env=client_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while proxy.kinds().count("PUT chunk") < 4:  # three chunks stored, the fourth held by the proxy
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # the machine dies mid-upload
    proc.wait(10)
    row = queue_rows(client_env)[-1]
    assert row["state"] == "uploading" and row["offset"] == 3 * chunk
    upload = api(platform_server, "GET", f"uploads/{row['upload_id']}/").json()
    assert upload["status"] == "receiving" and upload["offset"] == 3 * chunk

    proxy.reset()
    out = gait_upload(["push", "--chunk-size", str(chunk)], client_env)
    assert out.returncode == 0, out.stdout + out.stderr
    first_put = next(e for e in proxy.log if e[1] == "PUT chunk")
    assert first_put[4] == str(3 * chunk)  # resumed from the server's offset, not from 0
    assert "POST uploads" not in proxy.kinds()  # the same upload, not a new one
    row = queue_rows(client_env)[-1]
    assert row["state"] == "uploaded" and Path(row["path"]).exists()  # keep_days=-1: kept
    assert stored_bytes(platform_server, row["upload_id"]) == data


def test_503s_and_dropped_connections_are_retried(platform_server, proxy, client_env):
    login(proxy.url, platform_server["token"], client_env)
    row, data = record(client_env)
    faults = {("POST uploads", 0): "503", ("PUT chunk", 1): "drop", ("PUT chunk", 3): "lost",
              ("PUT chunk", 5): "503", ("POST complete", 0): "lost", ("POST complete", 1): "503"}
    proxy.reset(lambda method, kind, n: faults.get((kind, n), "pass"))
    out = gait_upload(["push", "--chunk-size", "16384"], client_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 uploaded" in out.stdout and "6 retries" in out.stdout
    actions = [e[2] for e in proxy.log]
    assert actions.count("503") == 3 and actions.count("drop") == 1 and actions.count("lost") == 2
    row = queue_rows(client_env)[-1]
    assert row["state"] == "uploaded"
    assert stored_bytes(platform_server, row["upload_id"]) == data


def test_persistent_outage_keeps_the_session_and_says_to_push_later(platform_server, proxy, client_env):
    login(proxy.url, platform_server["token"], client_env)
    record(client_env)
    proxy.reset(lambda method, kind, n: "503")
    out = gait_upload(["push"], client_env)
    assert out.returncode == 6, out.stdout + out.stderr
    assert "failed 6 times" in out.stderr and "push" in out.stderr and "Traceback" not in out.stderr
    # a server error is told apart from a network error, with the server's own reason
    assert "failing on its side" in out.stderr and "unavailable: injected" in out.stderr, out.stderr
    assert "check the network" not in out.stderr
    assert queue_rows(client_env)[-1]["state"] == "queued"
    proxy.reset()
    assert gait_upload(["push"], client_env).returncode == 0


def test_revoked_token_says_so_and_does_not_retry(platform_server, proxy, client_env):
    created = api(platform_server, "POST", "tokens/", json={"name": "clinic laptop", "role": "clinician"}).json()
    login(proxy.url, created["token"], client_env)
    record(client_env)
    assert api(platform_server, "POST", f"tokens/{created['id']}/revoke/").status_code == 200
    proxy.reset()
    out = gait_upload(["push"], client_env)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "refused the token" in out.stderr and "gait-upload login" in out.stderr
    assert len(proxy.log) == 1  # no retry loop
    assert queue_rows(client_env)[-1]["state"] == "queued"  # nothing lost


def test_login_with_a_bad_token_fails_cleanly(platform_server, client_env):
    out = gait_upload(["login", "--server", platform_server["url"], "--token", "gait_nope_nope"], client_env)
    assert out.returncode == 4 and "refused the token" in out.stderr and "Traceback" not in out.stderr
    assert not (Path(client_env["GAIT_UPLOAD_HOME"]) / "config.json").exists()


def test_invalid_file_is_rejected_with_the_reason_and_not_retried(platform_server, proxy, client_env, tmp_path):
    from uploader.client import file_sha256
    from uploader.queue import Queue

    login(proxy.url, platform_server["token"], client_env)
    _, data = record(client_env)
    queue = Queue(Path(client_env["GAIT_UPLOAD_HOME"]) / "queue.sqlite3")
    # the recorded session is fine; a second file is corrupt (a flipped byte inside an array)
    bad = tmp_path / "bad.gait.npz"
    bad.write_bytes(data[:2000] + bytes([data[2000] ^ 0xFF]) + data[2001:])
    queue.add(bad, "DEMO-002", tasks=["treadmill_3kmh"], size=bad.stat().st_size, sha256=file_sha256(bad))
    unknown = tmp_path / "unknown.gait.npz"
    unknown.write_bytes(data)
    queue.add(unknown, "NOBODY-9", tasks=PROTOCOL, size=len(data), sha256=file_sha256(unknown))
    queue.close()
    proxy.reset()
    out = gait_upload(["push", "--chunk-size", "65536"], client_env)
    assert out.returncode == 5, out.stdout + out.stderr
    assert "1 uploaded, 2 rejected" in out.stdout
    assert "invalid_session_file" in out.stderr and "subject unknown" in out.stderr
    assert proxy.kinds().count("POST complete") == 2  # one each for the good and the bad file: no retry
    rows = queue_rows(client_env)
    assert [r["state"] for r in rows] == ["uploaded", "rejected", "rejected"]
    assert rows[1]["error_code"] == "invalid_session_file" and bad.exists()
    assert rows[2]["error_code"] == "subject_unknown" and unknown.exists()
    again = gait_upload(["push"], client_env)  # rejected items are not pushed again
    assert again.returncode == 0 and "Nothing to upload" in again.stdout
    # the cause fixed (the subject created on the platform), the item is queued again and goes up
    cohort = api(platform_server, "GET", "cohorts/").json()["results"][0]["id"]
    created = api(platform_server, "POST", "subjects/", json={"cohort": cohort, "external_id": "NOBODY-9",
                                                              "birth_year": 1980, "sex": "female"})
    assert created.status_code == 201, created.text
    assert gait_upload(["queue", "--retry", str(rows[2]["id"])], client_env).returncode == 0
    assert gait_upload(["push"], client_env).returncode == 0
    assert queue_rows(client_env)[2]["state"] == "uploaded"


def _sdk_present() -> bool:
    try:
        from gaitcore.importers.azure_mkv import load_sdk

        load_sdk()
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.skipif(_sdk_present(), reason="the Azure Kinect SDK is installed here")
@pytest.mark.parametrize("args", [["devices"], ["record", "--subject", "DEMO-001", "--countdown", "0"]])
def test_without_the_sdk_the_user_learns_what_to_install(args, client_env):
    out = gait_upload(args, client_env)
    assert out.returncode == 7, out.stdout + out.stderr
    assert "Azure Kinect Sensor SDK" in out.stderr and "Body Tracking SDK" in out.stderr
    assert "pykinect_azure" in out.stderr and "--simulate" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_presigned_s3_multipart_mode(platform_server, proxy, client_env):
    login(proxy.url, platform_server["token"], client_env)
    row, data = record(client_env)
    out = gait_upload(["push", "--mode", "s3-multipart"], client_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PUT chunk" not in proxy.kinds() and "POST presign" in proxy.kinds()  # the bytes went to S3 directly
    row = queue_rows(client_env)[-1]
    assert row["state"] == "uploaded"
    assert api(platform_server, "GET", f"uploads/{row['upload_id']}/").json()["mode"] == "s3-multipart"
    assert stored_bytes(platform_server, row["upload_id"]) == data


def test_import_then_push(platform_server, proxy, client_env, tmp_path):
    from tests.gaitcore.fixtures_import import walk, write_kinect_v2

    login(proxy.url, platform_server["token"], client_env)
    write_kinect_v2(tmp_path / "rec.txt", walk(300))
    out = gait_upload(["import", str(tmp_path / "rec.txt"), "--format", "kinect-v2", "--subject", "DEMO-003",
                       "--task", "walk_in_place"], client_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert gait_upload(["push"], client_env).returncode == 0
    row = queue_rows(client_env)[-1]
    session = api(platform_server, "GET", f"sessions/{row['server_session']}/").json()
    assert session["tasks"] == ["walk_in_place"] and session["sensor"] == "kinect_v2"
    assert session["subject_external_id"] == "DEMO-003"


def test_record_refuses_an_unknown_subject_before_recording(platform_server, client_env):
    login(platform_server["url"], platform_server["token"], client_env)
    out = gait_upload(["record", "--subject", "NOBODY-1", "--simulate", "--speed", "0", "--countdown", "0"],
                      client_env)
    assert out.returncode == 5 and "subject unknown" in out.stderr
    assert not (Path(client_env["GAIT_UPLOAD_HOME"]) / "sessions").exists()  # nothing recorded


def test_a_gaitfm_synth_session_file_is_queued_pushed_and_processed_to_done(platform_server, client_env, tmp_path):
    """`gait-upload add` queues the platform's own .gait.npz (here from `gaitfm synth`); `push` uploads it and a
    real Celery worker (tiny checkpoint, in-process inference) takes the session to ``done``."""
    from tests.pipeline_support import Worker, tiny_checkpoint

    out = subprocess.run([sys.executable, "-m", "gaitcore.cli", "synth", "--subjects", "1", "--seed", "5", "--out",
                          str(tmp_path / "synth"), "--duration-scale", "0.17", "--no-progress"],
                         cwd=REPO, capture_output=True, text=True, timeout=300, env=client_env)
    assert out.returncode == 0, out.stderr[-2000:]
    (npz,) = sorted((tmp_path / "synth").rglob("*.gait.npz"))
    wrong = gait_upload(["import", str(npz), "--format", "csv", "--subject", "DEMO-002"], client_env)
    assert wrong.returncode != 0 and "already a session file" in wrong.stderr + wrong.stdout
    assert "\x00" not in wrong.stderr + wrong.stdout
    login(platform_server["url"], platform_server["token"], client_env)
    added = gait_upload(["add", str(npz), "--subject", "DEMO-002"], client_env)
    assert added.returncode == 0, added.stdout + added.stderr
    assert npz.exists()  # the queue works on its own copy
    pushed = gait_upload(["push"], client_env)
    assert pushed.returncode == 0 and "1 uploaded, 0 rejected" in pushed.stdout, pushed.stdout + pushed.stderr
    session_id = queue_rows(client_env)[-1]["server_session"]
    ckpt = tiny_checkpoint(tmp_path / "ckpt")
    worker = Worker({**platform_server["env"], "GAIT_MODEL_CHECKPOINT": str(ckpt), "GAIT_INFERENCE_BACKEND": "inprocess"},
                    tmp_path / "worker.log").start()
    try:
        deadline = time.monotonic() + 300
        while (s := api(platform_server, "GET", f"sessions/{session_id}/").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, worker.log()[-3000:]
            time.sleep(1)
    finally:
        worker.stop()
    assert s["status"] == "done", (s, worker.log()[-3000:])
    assert s["subject_external_id"] == "DEMO-002"


def test_the_same_recording_queued_twice_is_stored_once(platform_server, proxy, client_env, tmp_path):
    """A re-queued recording (a new item, a new Idempotency-Key) is recognised by its content: the server
    answers with the first session and nothing is sent; --allow-duplicate stores it again."""
    from tests.gaitcore.fixtures_import import walk, write_kinect_v2

    login(proxy.url, platform_server["token"], client_env)
    write_kinect_v2(tmp_path / "rec.txt", walk(300))
    args = ["import", str(tmp_path / "rec.txt"), "--format", "kinect-v2", "--subject", "DEMO-003",
            "--task", "walk_in_place"]
    assert gait_upload(args, client_env).returncode == 0
    assert gait_upload(["push"], client_env).returncode == 0
    first = queue_rows(client_env)[-1]
    assert gait_upload(args, client_env).returncode == 0
    out = gait_upload(["push"], client_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "already on the server" in out.stdout
    second = queue_rows(client_env)[-1]
    assert second["id"] != first["id"] and second["idempotency_key"] != first["idempotency_key"]
    assert (second["state"], second["server_session"], second["error_code"]) == \
        ("uploaded", first["server_session"], "duplicate")
    assert gait_upload(args, client_env).returncode == 0
    assert gait_upload(["push", "--allow-duplicate"], client_env).returncode == 0
    third = queue_rows(client_env)[-1]
    assert third["state"] == "uploaded" and third["server_session"] != first["server_session"]
