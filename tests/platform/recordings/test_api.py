"""Uploads: resumable, checksummed, validated; on the filesystem backend and on S3 (moto's server)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from cohorts.models import Cohort, Subject
from django.test import override_settings
from recordings import storage
from recordings.models import GaitSession, SessionStatus, Upload
from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.factories import session_file_bytes, sha256
from tests.platform.sessionfiles import bad_session_file_bytes, zip_bomb_bytes
from tests.services import MOTO_MIN_PART


class UploadTestMixin:
    """Upload helpers; subclasses choose the storage backend in ``setUp``."""

    def setUp(self):
        super().setUp()
        with self.scope():
            self.cohort = Cohort.objects.create(name="main")
            self.subject = Subject.objects.create(cohort=self.cohort, external_id="S-1", birth_year=1970, sex="male")
        self.api = self.client_for(Role.CLINICIAN)

    def create(self, data: bytes, key=None, **extra):
        body = {"subject": self.subject.pk, "format": "gait-session", "size": len(data), "sha256": sha256(data),
                "tasks": ["walk_in_place"], "filename": "s1.gait.npz", **extra}
        return self.api.post(self.url("upload-list"), body, format="json",
                             HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))

    def send(self, upload_id, offset: int, chunk: bytes, client=None, **headers):
        return (client or self.api).put(self.url("upload-chunk", pk=upload_id), chunk,
                                        content_type="application/offset+octet-stream",
                                        HTTP_UPLOAD_OFFSET=str(offset), **headers)

    def complete(self, upload_id):
        return self.api.post(self.url("upload-complete", pk=upload_id))

    def stored_names(self) -> list[str]:
        raise NotImplementedError

    def assertNothingStored(self):
        self.assertEqual(self.stored_names(), [])
        with self.scope():
            self.assertEqual(GaitSession.objects.count(), 0)

    # --- the acceptance cases ---------------------------------------------------------------------
    def test_interrupted_transfer_resumes_and_the_stored_file_is_byte_identical(self):
        data = session_file_bytes(n_frames=600, seed=1)
        up = self.create(data).json()
        chunk = 16 * 1024
        cut = (len(data) // chunk // 2) * chunk
        for off in range(0, cut, chunk):  # the first half arrives...
            self.assertEqual(self.send(up["id"], off, data[off:off + chunk]).status_code, 200)
        # ...then the connection drops: the next chunk arrives truncated; its checksum tells, nothing is kept
        full = base64.b64encode(hashlib.sha256(data[cut:cut + chunk]).digest()).decode()
        r = self.send(up["id"], cut, data[cut:cut + chunk // 2], HTTP_UPLOAD_CHECKSUM=f"sha256 {full}")
        self.assertError(r, 400, "chunk_checksum_mismatch")
        # a new client (new process) asks where to resume, resends a stale chunk (409, ignored) and goes on
        fresh = self.client_for(Role.CLINICIAN)
        offset = fresh.get(self.url("upload-detail", pk=up["id"])).json()["offset"]
        self.assertEqual(offset, cut)
        stale = self.send(up["id"], 0, data[:chunk], client=fresh)
        self.assertError(stale, 409, "offset_mismatch")
        self.assertEqual(stale.json()["error"]["details"]["offset"], cut)
        for off in range(offset, len(data), chunk):
            piece = data[off:off + chunk]
            digest = base64.b64encode(hashlib.sha256(piece).digest()).decode()
            r = self.send(up["id"], off, piece, client=fresh, HTTP_UPLOAD_CHECKSUM=f"sha256 {digest}")
            self.assertEqual(r.status_code, 200, r.content)
        r = self.complete(up["id"])
        self.assertEqual(r.status_code, 201, r.content)
        session = r.json()
        self.assertEqual(session["status"], SessionStatus.UPLOADED)
        self.assertEqual(session["sha256"], sha256(data))
        self.assertEqual(session["n_frames"], 600)
        with self.scope():
            stored = GaitSession.objects.get(pk=session["id"])
        self.assertEqual(storage.read(stored.file_key), data)  # byte-identical
        self.assertEqual(self.stored_names(), [stored.file_key])  # staging chunks are gone
        self.assertIn("upload.complete", self.audit_actions())

    def test_same_idempotency_key_returns_the_same_upload(self):
        data = session_file_bytes(seed=2)
        first = self.create(data, key="k-1")
        again = self.create(data, key="k-1")
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(first.json()["id"], again.json()["id"])
        other = self.create(data + b"x", key="k-1")
        self.assertError(other, 409, "idempotency_conflict")

    def test_wrong_checksum_is_a_clear_422_and_stores_nothing(self):
        data = session_file_bytes(seed=3)
        up = self.create(data, sha256="0" * 64).json()
        self.assertEqual(self.send(up["id"], 0, data).status_code, 200)
        err = self.assertError(self.complete(up["id"]), 422, "checksum_mismatch")
        self.assertIn("SHA-256", err["message"])
        self.assertNothingStored()
        detail = self.api.get(self.url("upload-detail", pk=up["id"])).json()
        self.assertEqual((detail["status"], detail["error_code"]), ("failed", "checksum_mismatch"))
        self.assertError(self.send(up["id"], len(data), b"x"), 409, "upload_failed")

    def test_oversized_file_is_a_413_and_stores_nothing(self):
        with override_settings(UPLOAD_MAX_BYTES=1000):
            err = self.assertError(self.create(b"x" * 1001), 413, "too_large")
        self.assertIn("limit", err["message"])
        data = session_file_bytes(seed=4)
        up = self.create(data).json()
        self.assertError(self.send(up["id"], 0, data + b"extra"), 413, "too_large")  # more than declared
        self.assertNothingStored()

    def test_corrupt_file_is_a_clear_422_and_stores_nothing(self):
        data = bytearray(session_file_bytes(seed=5))
        data[len(data) // 2] ^= 0xFF
        data = bytes(data)
        up = self.create(data).json()
        self.send(up["id"], 0, data)
        err = self.assertError(self.complete(up["id"]), 422, "invalid_session_file")
        self.assertIn("session file", err["message"])
        self.assertNothingStored()

    def upload_whole(self, data: bytes, **extra):
        up = self.create(data, **extra).json()
        self.assertEqual(self.send(up["id"], 0, data).status_code, 200)
        return up, self.complete(up["id"])

    def test_zip_bomb_is_refused_from_the_archive_headers_and_stores_nothing(self):
        bomb = zip_bomb_bytes()  # 0.6 MB that would inflate to 565 MiB
        up, r = self.upload_whole(bomb, tasks=[])
        err = self.assertError(r, 413, "too_large")
        self.assertIn("1,398,101 frames", err["message"])
        self.assertIn("the limit is 432,000 frames", err["message"])
        self.assertNothingStored()

    def test_impossible_values_are_a_clear_422_and_store_nothing(self):
        cases = {"nan": ("non_finite", "non-finite coordinate (nan) at frame 40"),
                 "inf": ("non_finite", "non-finite coordinate (inf) at frame 40"),
                 "huge": ("absurd_coordinates", "coordinate 1e+30 mm at frame 40"),
                 "decreasing": ("non_monotonic_timestamps", "timestamps must strictly increase; frame 40")}
        for case, (code, words) in cases.items():
            with self.subTest(case):
                up, r = self.upload_whole(bad_session_file_bytes(case))
                err = self.assertError(r, 422, code)
                self.assertIn(words, err["message"])
                detail = self.api.get(self.url("upload-detail", pk=up["id"])).json()
                self.assertEqual((detail["status"], detail["error_code"]), ("failed", code))
        self.assertNothingStored()

    def test_filenames_become_safe_display_names(self):
        for given, shown in (("../../etc/x.gait.npz\r\nSet-Cookie: a=b", "x.gait.npzSet-Cookie: a=b"),
                             ("C:\\clinic\\s 1.gait.npz", "s 1.gait.npz"), ("..", ""), ("a\x07b\tc.npz", "abc.npz")):
            with self.subTest(given):
                r = self.create(session_file_bytes(seed=20), filename=given)
                self.assertEqual(r.status_code, 201, r.content)
                self.assertEqual(r.json()["filename"], shown)

    def test_the_same_content_twice_returns_the_first_session_unless_asked(self):
        data = session_file_bytes(seed=21)
        first, r = self.upload_whole(data)
        self.assertEqual(r.status_code, 201, r.content)
        session = r.json()["id"]
        again = self.create(data)  # another Idempotency-Key: a re-queued recording
        self.assertEqual(again.status_code, 200, again.content)
        body = again.json()
        self.assertEqual((body["id"], body["session"], body["status"], body["duplicate"]),
                         (first["id"], session, "complete", True))
        self.assertEqual(self.complete(body["id"]).json()["id"], session)  # completing it is harmless
        fresh = self.create(data, allow_duplicate=True)
        self.assertEqual((fresh.status_code, fresh.json()["duplicate"]), (201, False))
        self.assertFalse(first["duplicate"])
        with self.scope():
            self.assertEqual(GaitSession.objects.filter(sha256=sha256(data)).count(), 1)
        self.assertIn("upload.duplicate", self.audit_actions())

    def test_unknown_format_is_a_400_and_stores_nothing(self):
        err = self.assertError(self.create(b"RIFF....", format="mp4"), 400, "unknown_format")
        self.assertIn("gait-session", err["message"])
        self.assertNothingStored()

    def test_declared_tasks_must_be_in_the_file(self):
        data = session_file_bytes(seed=6, tasks=("walk_in_place",))
        up = self.create(data, tasks=["sit_to_stand"]).json()
        self.send(up["id"], 0, data)
        self.assertError(self.complete(up["id"]), 422, "task_mismatch")
        self.assertNothingStored()

    def test_incomplete_upload_cannot_complete(self):
        data = session_file_bytes(seed=7)
        up = self.create(data).json()
        self.send(up["id"], 0, data[:100])
        self.assertError(self.complete(up["id"]), 409, "incomplete")

    def test_chunk_checksum_mismatch_is_refused(self):
        data = session_file_bytes(seed=8)
        up = self.create(data).json()
        bad = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
        self.assertError(self.send(up["id"], 0, data, HTTP_UPLOAD_CHECKSUM=f"sha256 {bad}"), 400, "chunk_checksum_mismatch")
        self.assertNothingStored()

    def test_an_upload_for_another_organisations_subject_is_refused(self):
        with self.scope(self.other):
            foreign = Subject.objects.create(cohort=Cohort.objects.create(name="theirs"), external_id="T-1",
                                             birth_year=1980, sex="male")
        self.subject = foreign
        err = self.assertError(self.create(session_file_bytes(seed=14)), 400, "invalid")
        self.assertIn("subject", err["details"])
        self.assertNothingStored()

    def test_viewers_cannot_upload(self):
        self.api = self.client_for(Role.VIEWER)
        self.assertError(self.create(b"abc"), 403)


class FilesystemUploadTest(UploadTestMixin, APITestBase):
    def setUp(self):
        import tempfile

        self.media = Path(tempfile.mkdtemp(prefix="gait-media-"))
        self._override = override_settings(STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(self.media)}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        })
        self._override.enable()
        self.addCleanup(self._override.disable)
        super().setUp()

    def stored_names(self):
        return sorted(str(p.relative_to(self.media)) for p in self.media.rglob("*") if p.is_file())

    def test_processing_is_queued_on_commit(self):
        from unittest import mock

        data = session_file_bytes(seed=9)
        up = self.create(data).json()
        self.send(up["id"], 0, data)
        with mock.patch("recordings.dispatch.send", return_value=True) as send, \
                self.captureOnCommitCallbacks(execute=True):
            session = self.complete(up["id"]).json()
        send.assert_called_once()
        self.assertEqual(sent_task(send.call_args), ("workers.pipeline.process_session", [session["id"], self.org.pk]))
        row = GaitSession.unscoped.get(pk=session["id"])
        self.assertEqual((row.step, row.task_id), ("validate", send.call_args.args[2]))
        self.assertIsNotNone(row.sent_at)  # the outbox message was handed to the broker
        self.assertIn("queued for checking the recording", session["status_reason"])
        # the task itself (run in-process here) validates the stored file, moves the status on and
        # queues the next step of the pipeline (docs/pipeline.md)
        from workers.tasks.pipeline import process_session

        with mock.patch("recordings.dispatch.send", return_value=True) as send:
            self.assertEqual(process_session(session["id"], self.org.pk)["status"], "advanced")
        send.assert_called_once()
        self.assertEqual(sent_task(send.call_args), ("workers.pipeline.preprocess", [session["id"], self.org.pk]))
        got = self.api.get(self.url("session-detail", pk=session["id"])).json()
        self.assertEqual((got["status"], got["attempts"]), ("processing", 1))
        self.assertIn("queued for cleaning the recording", got["status_reason"])
        # the same message again (a redelivery) is a no-op: the session is past validation
        with mock.patch("recordings.dispatch.send", return_value=True) as send:
            self.assertEqual(process_session(session["id"], self.org.pk)["status"], "skipped")
        send.assert_not_called()


def sent_task(call) -> tuple[str, list]:
    """(task name, args) of a mocked ``send_task`` call, whether the args came by keyword or by position."""
    args = call.kwargs["args"] if "args" in call.kwargs else call.args[1]
    return call.args[0], list(args)


def s3_storages(endpoint: str, bucket: str) -> dict:
    return {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": bucket, "endpoint_url": endpoint, "region_name": "us-east-1",
            "access_key": "testing", "secret_key": "testing", "default_acl": None, "file_overwrite": False,
            "querystring_auth": True, "signature_version": "s3v4"}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.mark.integration
class S3UploadTest(UploadTestMixin, APITestBase):
    """The same cases against moto's real S3 HTTP server, plus presigned multipart uploads."""

    @pytest.fixture(autouse=True)
    def _s3(self, moto_s3):
        self.endpoint = moto_s3

    def setUp(self):
        self.bucket = f"gait-{uuid.uuid4().hex[:12]}"
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        self.s3.create_bucket(Bucket=self.bucket)
        self._override = override_settings(STORAGES=s3_storages(self.endpoint, self.bucket),
                                           UPLOAD_S3_MIN_PART_BYTES=MOTO_MIN_PART)
        self._override.enable()
        self.addCleanup(self._override.disable)
        super().setUp()

    def stored_names(self):
        keys = sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []))
        pending = self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        return keys + [f"(multipart) {u['Key']}" for u in pending]

    def put_part(self, url: str, body: bytes):
        r = requests.put(url, data=body, headers={"Content-Type": "application/octet-stream"}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text[:500])

    def test_presigned_multipart_upload_resumes_and_is_byte_identical(self):
        data = session_file_bytes(n_frames=2500, seed=11)  # several parts of MOTO_MIN_PART
        up = self.create(data, mode="s3-multipart").json()
        self.assertEqual(up["part_size"], MOTO_MIN_PART)
        n = up["part_count"]
        self.assertGreaterEqual(n, 3)
        urls = {p["part"]: p["url"] for p in self.api.post(self.url("upload-presign", pk=up["id"]),
                                                           {"parts": list(range(1, n + 1))}, format="json").json()}
        size = up["part_size"]
        self.put_part(urls[1], data[:size])  # part 1 arrives, then the clinic's network drops
        status = self.client_for(Role.CLINICIAN).get(self.url("upload-detail", pk=up["id"])).json()
        self.assertEqual([p["part"] for p in status["parts"]], [1])
        self.assertEqual(status["offset"], size)
        self.assertError(self.complete(up["id"]), 409, "incomplete")
        fresh = {p["part"]: p["url"] for p in self.api.post(self.url("upload-presign", pk=up["id"]),
                                                            {"parts": list(range(2, n + 1))}, format="json").json()}
        for part in range(2, n + 1):
            self.put_part(fresh[part], data[(part - 1) * size: part * size])
        r = self.complete(up["id"])
        self.assertEqual(r.status_code, 201, r.content)
        with self.scope():
            stored = GaitSession.objects.get(pk=r.json()["id"])
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=stored.file_key)["Body"].read(), data)
        self.assertEqual(self.stored_names(), [stored.file_key])

    def test_presigned_multipart_with_a_corrupt_file_stores_nothing(self):
        data = bytearray(session_file_bytes(n_frames=900, seed=12))
        data[100] ^= 0xFF
        data = bytes(data)
        up = self.create(data, mode="s3-multipart").json()
        parts = self.api.post(self.url("upload-presign", pk=up["id"]),
                              {"parts": list(range(1, up["part_count"] + 1))}, format="json").json()
        for p in parts:
            self.put_part(p["url"], data[(p["part"] - 1) * up["part_size"]: p["part"] * up["part_size"]])
        self.assertError(self.complete(up["id"]), 422, "invalid_session_file")
        self.assertNothingStored()

    def test_presigned_urls_are_not_served_for_another_organisations_upload(self):
        data = session_file_bytes(seed=13)
        up = self.create(data, mode="s3-multipart").json()
        other = self.client_for(Role.OWNER, org=self.other)
        self.assertError(other.post(self.url("upload-presign", pk=up["id"]), {"parts": [1]}, format="json"), 404)


def test_requeue_sessions_command_sends_stuck_sessions(db):
    from datetime import timedelta
    from unittest import mock

    from django.core.management import call_command
    from django.utils import timezone
    from tenancy.scope import organisation_scope

    from tests.platform.factories import make_org, seed_everything

    org = make_org("rq")
    objs = seed_everything(org, "rq", n_sessions=2)
    with organisation_scope(org):
        GaitSession.objects.filter(pk=objs["gaitsession"][0].pk).update(
            status=SessionStatus.UPLOADED, updated_at=timezone.now() - timedelta(hours=1))
        GaitSession.objects.filter(pk=objs["gaitsession"][1].pk).update(status=SessionStatus.DONE)
    with mock.patch("recordings.dispatch.send", return_value=True) as send:
        call_command("requeue_sessions", "--minutes", "10")
    send.assert_called_once()
    assert sent_task(send.call_args) == ("workers.pipeline.process_session", [objs["gaitsession"][0].pk, org.pk])


def test_pipeline_task_marks_an_unreadable_stored_file_failed_with_a_reason(db, tmp_path, settings):
    from tenancy.scope import NoOrganisationScope, organisation_scope

    from tests.platform.factories import make_org, seed_everything
    from workers.tasks.pipeline import process_session

    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    org = make_org("pf")
    session = seed_everything(org, "pf")["gaitsession"][0]
    (tmp_path / "broken.gait.npz").write_bytes(b"not a zip")
    with organisation_scope(org):
        GaitSession.objects.filter(pk=session.pk).update(file_key="broken.gait.npz")
    assert process_session(session.pk, org.pk)["status"] == SessionStatus.FAILED
    with pytest.raises(NoOrganisationScope):  # the task left no scope behind
        GaitSession.objects.count()
    with organisation_scope(org):
        s = GaitSession.objects.get(pk=session.pk)
    assert s.attempts == 1 and "not a session file" in s.status_reason


def test_expire_uploads_aborts_idle_uploads_and_deletes_their_chunks(db, tmp_path, settings):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone
    from recordings.actions import append_chunk, create_upload
    from tenancy.audit import Actor
    from tenancy.scope import organisation_scope

    from tests.platform.factories import make_org

    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    org = make_org("ex")
    data = session_file_bytes(seed=20)
    with organisation_scope(org):
        subject = Subject.objects.create(cohort=Cohort.objects.create(name="c"), external_id="E1", birth_year=1990, sex="male")
        upload, _ = create_upload(Actor.system(), idempotency_key="k", subject=subject, format="gait-session",
                                  size=len(data), sha256=sha256(data), tasks=[])
        append_chunk(Actor.system(), upload, offset=0, data=data[:100], checksum=None)
        Upload.objects.filter(pk=upload.pk).update(updated_at=timezone.now() - timedelta(days=8))
    assert any(p.is_file() for p in tmp_path.rglob("*"))
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("expire_uploads", "--days", "7")
    with organisation_scope(org):
        u = Upload.objects.get(pk=upload.pk)
    assert (u.status, u.error_code) == ("failed", "aborted") and "expired" in u.error_message
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
