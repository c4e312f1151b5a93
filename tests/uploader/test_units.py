"""Unit tests of the uploader: queue state machine, backoff, configuration permissions, capture from
pykinect_azure Body objects built from ctypes structs, the recorder's task-by-task file, import."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from uploader import config as cfg
from uploader.backoff import Backoff
from uploader.errors import DeviceError, NotConfigured
from uploader.queue import QUEUED, RECORDING, REJECTED, UPLOADED, UPLOADING, InvalidTransition, Queue
from uploader.record import PROTOCOLS, Recorder


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GAIT_UPLOAD_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# --- queue -------------------------------------------------------------------------------------------
def test_queue_state_machine(tmp_path):
    q = Queue(tmp_path / "q.sqlite3")
    item = q.add(tmp_path / "a.gait.npz", "S-1", tasks=["sit_to_stand"], size=10, sha256="ab")
    assert item.state == QUEUED and item.idempotency_key.startswith("gait-upload-")
    with pytest.raises(InvalidTransition):
        q.transition(item.id, UPLOADED)  # never without an upload
    item = q.transition(item.id, UPLOADING, upload_id="u1")
    assert q.update(item.id, offset=5).offset == 5
    with pytest.raises(InvalidTransition):
        q.update(item.id, state=QUEUED)
    item = q.transition(item.id, REJECTED, error="bad", error_code="invalid_session_file")
    again = q.retry(item.id)
    assert again.state == QUEUED and again.upload_id == "" and again.offset == 0
    assert again.idempotency_key != item.idempotency_key  # a new upload on the server
    done = q.transition(q.transition(again.id, UPLOADING, upload_id="u2").id, UPLOADED, server_session="7")
    for state in (QUEUED, UPLOADING, REJECTED, RECORDING):
        with pytest.raises(InvalidTransition):
            q.transition(done.id, state)  # terminal
    with pytest.raises(InvalidTransition):
        q.add(tmp_path / "b", "S-2", tasks=[], state=UPLOADING)
    q.close()


def test_queue_survives_reopening_and_orders_pending(tmp_path):
    path = tmp_path / "q.sqlite3"
    with Queue(path) as q:
        a = q.add("a", "S", tasks=[])
        b = q.add("b", "S", tasks=[])
        q.add("c", "S", tasks=[], state=RECORDING)
        q.transition(b.id, UPLOADING, upload_id="x")
    with Queue(path) as q:  # another process, later
        assert [i.id for i in q.pending()] == [b.id, a.id]  # unfinished uploads first; recordings never
        assert q.get(b.id).upload_id == "x"


# --- backoff -----------------------------------------------------------------------------------------
def test_backoff_is_exponential_capped_and_jittered():
    b = Backoff(base=0.5, cap=8.0, attempts=8, rng=random.Random(1))
    assert [b.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    delays = [b.delay(3) for _ in range(200)]
    assert all(0 <= d <= 4.0 for d in delays) and len(set(delays)) > 150  # full jitter
    assert 1.5 < float(np.mean(delays)) < 2.5
    assert b.delay(0, retry_after=5) >= 5  # the server's Retry-After is a lower bound ...
    assert b.delay(0, retry_after=60) <= 8.0  # ... within the cap


def test_backoff_from_env(monkeypatch):
    monkeypatch.setenv("GAIT_UPLOAD_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("GAIT_UPLOAD_RETRIES", "3")
    b = Backoff.from_env()
    assert b.base == 0.01 and b.attempts == 3


# --- configuration -----------------------------------------------------------------------------------
def test_config_is_private_and_honours_the_home_variable(home):
    with pytest.raises(NotConfigured):
        cfg.load()
    path = cfg.save(cfg.Config(server="http://x", token="gait_a_b", keep_days=3))
    assert path.parent == home
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) & 0o077 == 0
    path.chmod(0o644)
    cfg.save(cfg.Config(server="http://y", token="t2"))  # rewriting restores 0600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cfg.load().server == "http://y" and cfg.load().api == "http://y/api/v1"
    assert not [p for p in home.iterdir() if p.name.startswith(".config-")]  # no temporary left behind


# --- capture through pykinect_azure Body objects (no device) ----------------------------------------------
def _body(body_id: int, pos_mm: np.ndarray, conf: np.ndarray):
    """A pykinect_azure Body built from the SDK's ctypes structs, as the body tracker fills them."""
    from pykinect_azure import Body
    from pykinect_azure.k4abt._k4abtTypes import k4abt_body_t

    handle = k4abt_body_t()
    handle.id = body_id
    for j in range(32):
        joint = handle.skeleton.joints[j]
        joint.position.xyz.x, joint.position.xyz.y, joint.position.xyz.z = (float(v) for v in pos_mm[j])
        joint.orientation.wxyz.w = 1.0
        joint.confidence_level = int(conf[j])
    return Body(handle)


class _FakeKinect:
    """Stands in for the initialised pykinect_azure module: device and tracker are fakes, the bodies
    are real pykinect_azure Body objects (the narrowest seam)."""

    K4A_DEPTH_MODE_NFOV_UNBINNED, K4A_COLOR_RESOLUTION_OFF, K4A_FRAMES_PER_SECOND_30 = 2, 0, 2

    def __init__(self, frames):
        self.frames = frames  # [(timestamp_us, [Body, ...])]
        self.default_configuration = type("Config", (), {})()
        self.closed = []

    def start_device(self, device_index=0, config=None):
        fake = self

        class Device:
            def update(self):
                return object()

            def close(self):
                fake.closed.append("device")

        return Device()

    def start_body_tracker(self):
        fake, it = self, iter(self.frames)

        class BodyFrame:
            def __init__(self, ts, bodies):
                self.ts, self.bodies = ts, bodies

            def get_device_timestamp_usec(self):
                return self.ts

            def get_bodies(self):
                return self.bodies

        class Tracker:
            def update(self, capture=None):
                return BodyFrame(*next(it))

            def destroy(self):
                fake.closed.append("tracker")

        return Tracker()


def test_kinect_capture_records_the_followed_body(tmp_path):
    pytest.importorskip("pykinect_azure")
    from gaitcore.sessionfile import read_session
    from tests.gaitcore.fixtures_import import walk
    from uploader.capture import KinectSource

    n_task = 40
    tasks = PROTOCOLS["hpp"]
    total = n_task * len(tasks) + 10
    w = walk(total).astype(np.float32)
    other = w + np.array([0, 0, -800], np.float32)  # a second person, nearer the camera
    conf = np.full(32, 2, np.uint8)
    conf[31] = 0
    frames = []
    for f in range(total):
        bodies = [_body(7, w[f], conf)]
        if 50 <= f < 60:
            bodies.append(_body(9, other[f], conf))  # walks in later: the recorder keeps following body 7
        if f == 20:
            bodies = []  # a frame without anybody
        frames.append((10_000_000 + f * 33_333, bodies))
    fake = _FakeKinect(frames)
    with Queue(tmp_path / "q.sqlite3") as q:
        rec = Recorder(KinectSource(0, pykinect=fake), subject="S-1", protocol="hpp", queue=q, out_dir=tmp_path,
                       duration_scale=(n_task - 1) / 30 / 180, countdown_s=0, sleep=lambda s: None)
        # every task lasts max(1 s, ...) = 1 s: 31 frames of 33.3 ms
        item = rec.run()
        assert item.state == QUEUED and item.tasks == [t.task for t in tasks]
    s = read_session(item.path)
    assert s.sensor == "azure_kinect" and s.subject == "S-1"
    assert [t.task for t in s.tasks] == [t.task for t in tasks]
    assert 20 not in ((s.timestamps_us - 10_000_000) // 33_333)  # the empty frame was dropped
    np.testing.assert_allclose(s.positions, w[((s.timestamps_us - 10_000_000) // 33_333)], atol=1e-3)
    assert (s.confidence[:, 31] == 0).all() and (s.confidence[:, 0] == 2).all()
    assert np.all(np.diff(s.timestamps_us) > 0)
    assert sorted(fake.closed) == ["device", "tracker"]


class _CrashingSource:
    """A simulated camera that dies during the third task."""

    sensor = "synthetic"

    def __init__(self):
        from uploader.simulate import SimulatedSource

        self.inner = SimulatedSource(speed=0)
        self.calls = 0

    def open(self):
        pass

    def close(self):
        pass

    def describe(self):
        return {}

    def stream(self, task, duration_s):
        self.calls += 1
        for i, frame in enumerate(self.inner.stream(task, duration_s)):
            if self.calls == 3 and i == 10:
                raise RuntimeError("USB cable pulled")
            yield frame


def test_a_crash_loses_only_the_task_in_progress(tmp_path):
    from gaitcore.sessionfile import read_session

    with Queue(tmp_path / "q.sqlite3") as q:
        rec = Recorder(_CrashingSource(), subject="S-2", protocol="hpp", queue=q, out_dir=tmp_path,
                       duration_scale=0.01, countdown_s=0)
        with pytest.raises(RuntimeError):
            rec.run()
        item = q.get(rec.item.id)
        assert item.state == RECORDING and item.tasks == ["treadmill_3kmh", "treadmill_self_selected"]
        s = read_session(item.path)  # a complete, valid file with the two finished tasks
        assert [t.task for t in s.tasks] == item.tasks and item.size == os.path.getsize(item.path)
        assert q.retry(item.id).state == QUEUED


# --- CLI without a server ----------------------------------------------------------------------------
def test_import_queues_converted_sessions(home, tmp_path):
    from tests.gaitcore.fixtures_import import walk, write_kinect_v2
    from uploader.cli import main

    rec = write_kinect_v2(tmp_path / "rec" / "walk.txt", walk(150))
    (tmp_path / "rec" / "broken.txt").write_text("not a recording\n")
    out = CliRunner().invoke(main, ["import", str(tmp_path / "rec"), "--format", "kinect-v2", "--subject", "S-3",
                                    "--task", "treadmill_3kmh"])
    assert out.exit_code == 8, out.output  # one of two files failed: said, and the other is queued
    with Queue(home / "queue.sqlite3") as q:
        [item] = q.list()
    assert item.state == QUEUED and item.subject == "S-3" and item.tasks == ["treadmill_3kmh"]
    assert Path(item.path).parent == home / "sessions" and rec.exists()
    listing = CliRunner().invoke(main, ["queue"])
    assert listing.exit_code == 0 and "S-3" in listing.output and "queued" in listing.output


def test_commands_needing_a_login_say_so(home):
    from uploader.cli import main

    for cmd in (["push"], ["status"]):
        out = CliRunner().invoke(main, cmd)
        assert out.exit_code == 3 and "gait-upload login" in out.output


def test_device_errors_are_short(home, monkeypatch):
    from uploader import capture
    from uploader.cli import main

    def missing():
        raise DeviceError("the Azure Kinect SDK is not available (test)", capture.INSTALL_HELP)

    monkeypatch.setattr(capture, "load_sdk", missing)
    out = CliRunner().invoke(main, ["record", "--subject", "S-1"])
    assert out.exit_code == 7 and "Body Tracking SDK" in out.output and "Traceback" not in out.output


def test_retention_deletes_only_confirmed_files_when_allowed(tmp_path):
    from uploader.push import apply_retention

    with Queue(tmp_path / "q.sqlite3") as q:
        files = []
        for name in ("confirmed", "pending"):
            f = tmp_path / f"{name}.gait.npz"
            f.write_bytes(b"x")
            files.append(f)
        a = q.add(files[0], "S", tasks=[])
        q.transition(a.id, UPLOADING, upload_id="u")
        q.transition(a.id, UPLOADED, server_session="1", uploaded_at=1000.0)
        q.add(files[1], "S", tasks=[])  # queued: never deleted
        assert apply_retention(q, -1, now=10**9) == []  # keep forever
        assert apply_retention(q, 2, now=1000.0 + 86400) == []  # kept two days
        assert apply_retention(q, 2, now=1000.0 + 2 * 86400) == [str(files[0])]
        assert not files[0].exists() and files[1].exists() and q.get(a.id).file_deleted


@pytest.mark.skipif(__import__("importlib").util.find_spec("pykinect_azure") is None, reason="needs pykinect_azure")
def test_importing_mkv_without_the_sdk_says_what_to_install(home, tmp_path):
    from uploader.cli import main

    try:
        from gaitcore.importers.azure_mkv import load_sdk

        load_sdk()
        pytest.skip("the Azure Kinect SDK is installed here")
    except Exception:  # noqa: BLE001
        pass
    mkv = tmp_path / "rec.mkv"
    mkv.write_bytes(b"\x1a\x45\xdf\xa3not really matroska")
    out = CliRunner().invoke(main, ["import", str(mkv), "--format", "azure-mkv", "--subject", "S-1"])
    assert out.exit_code == 7, out.output
    assert "Body Tracking SDK" in out.output and "azure-json" in out.output and "Traceback" not in out.output


def test_network_errors_and_server_errors_are_told_apart(tmp_path):
    """No answer at all is a network problem; 5xx answers (with the API's JSON error) are the server's."""
    import http.server
    import threading

    from tests.services import free_port
    from uploader.client import Api
    from uploader.errors import Unavailable

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            body = b'{"error": {"status": 503, "code": "storage_unavailable", "message": "the media folder is read-only"}}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for url, kind, said in [(f"http://127.0.0.1:{free_port()}", "network", "could not be reached: check the network"),
                                (f"http://127.0.0.1:{server.server_port}", "server", "failing on its side")]:
            api = Api(url, "t", backoff=Backoff(attempts=2, base=0.01, cap=0.01), sleep=lambda _s: None)
            with pytest.raises(Unavailable) as err:
                api.request("GET", "subjects/")
            assert err.value.kind == kind and said in err.value.hint
        assert "storage_unavailable: the media folder is read-only" in err.value.message
    finally:
        server.shutdown()
