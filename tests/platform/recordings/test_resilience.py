"""The API keeps answering, in its JSON error format, when Redis, the broker or storage fail (issue 28)."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from cohorts.models import Cohort, Subject
from django.test import override_settings
from recordings import dispatch
from recordings.models import GaitSession
from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.factories import session_file_bytes, sha256
from tests.services import free_port


def _fs_storages(location: str) -> dict:
    return {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": location}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


class ResilienceTest(APITestBase):
    def setUp(self):
        super().setUp()
        self.media = Path(tempfile.mkdtemp(prefix="gait-media-"))
        self._override = override_settings(STORAGES=_fs_storages(str(self.media)))
        self._override.enable()
        self.addCleanup(self._override.disable)
        with self.scope():
            cohort = Cohort.objects.create(name="main")
            self.subject = Subject.objects.create(cohort=cohort, external_id="S-1", birth_year=1970, sex="male")
        self.api = self.client_for(Role.CLINICIAN)

    def upload(self, data: bytes) -> str:
        body = {"subject": self.subject.pk, "format": "gait-session", "size": len(data), "sha256": sha256(data),
                "tasks": ["walk_in_place"], "filename": "s1.gait.npz"}
        r = self.api.post(self.url("upload-list"), body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        self.assertEqual(r.status_code, 201, r.content)
        return r.json()["id"]

    def put(self, upload_id, data: bytes):
        return self.api.put(self.url("upload-chunk", pk=upload_id), data,
                            content_type="application/offset+octet-stream", HTTP_UPLOAD_OFFSET="0")

    def test_throttling_fails_open_when_redis_is_down(self):
        dead = f"redis://127.0.0.1:{free_port()}/0"
        caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead,
                              "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
        with override_settings(CACHES=caches), self.assertLogs("tenancy", "WARNING") as logs:
            r = self.api.get(self.url("session-list"))
        self.assertEqual(r.status_code, 200, r.content)
        self.assertIn("rate-limit cache is unavailable, request allowed", "\n".join(logs.output))

    def test_complete_is_accepted_with_the_broker_down_and_sent_later(self):
        data = session_file_bytes(seed=3)
        uid = self.upload(data)
        self.assertEqual(self.put(uid, data).status_code, 200)
        dispatch.api_app.cache_clear()
        self.addCleanup(dispatch.api_app.cache_clear)
        dead = f"redis://127.0.0.1:{free_port()}/0"
        with override_settings(CELERY_BROKER_URL=dead, CELERY_RESULT_BACKEND=dead):
            t0 = time.monotonic()
            with self.captureOnCommitCallbacks(execute=True):  # the send runs on commit, inside the request
                r = self.api.post(self.url("upload-complete", pk=uid))
            took = time.monotonic() - t0
        self.assertEqual(r.status_code, 201, r.content)
        self.assertLess(took, 3.0)  # no retries, no result backend: never the 20-60 s seen before
        s = GaitSession.unscoped.get(pk=r.json()["id"])
        self.assertEqual((s.status, s.step, s.sent_at), ("uploaded", "validate", None))
        self.assertEqual(s.status_reason, dispatch.BROKER_DOWN)
        self.assertIn(s, list(dispatch.unsent()))  # the sweeper's outbox sends it when the broker is back

    def test_a_read_only_or_broken_media_folder_is_a_503_in_the_api_format(self):
        data = session_file_bytes(seed=4)
        uid = self.upload(data)
        blocker = self.media / "not-a-folder"
        blocker.write_bytes(b"")  # storage below a regular file: every write fails (NotADirectoryError)
        with override_settings(STORAGES=_fs_storages(str(blocker / "media"))):
            r = self.put(uid, data)
        self.assertError(r, 503, "storage_unavailable")
        self.assertIn("storing the chunk", r.json()["error"]["message"])
        self.assertEqual(self.api.get(self.url("upload-detail", pk=uid)).json()["offset"], 0)  # nothing kept
        self.assertEqual(self.put(uid, data).status_code, 200)  # storage back: the same chunk goes in
        with override_settings(STORAGES=_fs_storages(str(blocker / "media"))):
            r = self.api.post(self.url("upload-complete", pk=uid))
        self.assertError(r, 503, "storage_unavailable")
        self.assertEqual(self.api.get(self.url("upload-detail", pk=uid)).json()["status"], "receiving")
        self.assertEqual(self.api.post(self.url("upload-complete", pk=uid)).status_code, 201)
