"""Pooled pretraining, fast: the organisation opt-in (owner or staff, audited), the global snapshot's rules
(opted-in organisations, consenting subjects, done sessions whose file exists), the staff-only platform
endpoints (403 for everyone else) and the isolation of global jobs from the tenant endpoints."""

from __future__ import annotations

from unittest import mock

from django.contrib.auth import get_user_model
from django.core.files.storage import storages
from rest_framework.test import APIClient
from tenancy.models import AuditEvent, Role

from tests.platform.base import APITestBase
from tests.platform.factories import make_member, session_file_bytes, sha256, verified_login

URL = "/api/v1/platform/training-jobs/"
TINY = {"config": "tiny", "steps": 20, "batch_size": 2, "ckpt_every": 10}


def seed_subjects(org, tag: str, consenting: int, refusing: int, extra: dict | None = None) -> dict:
    """Subjects with one done session each (a real session file in storage); ``extra``: {"failed": n,
    "missing": n} more sessions of the first consenting subject that are not done / whose file is gone."""
    from cohorts.models import Cohort, Subject
    from recordings.models import GaitSession
    from tenancy.scope import organisation_scope

    out = {"consenting": [], "refusing": [], "sessions": {"consenting": [], "refusing": [], "failed": [], "missing": []}}
    st = storages["default"]
    with organisation_scope(org):
        cohort = Cohort.objects.create(name=f"pool-{tag}")

        def session(subject, i, status="done", stored=True):
            data = session_file_bytes(subject=subject.external_id, seed=i)
            key = f"sessions/{org.pk}/{tag}-{subject.pk}-{i}.gait.npz"
            if stored:
                st.save(key, __import__("io").BytesIO(data))
            return GaitSession.objects.create(subject=subject, sensor="synthetic", tasks=["walk_in_place"],
                                              n_frames=90, duration_s=3.0, file_key=key, sha256=sha256(data),
                                              status=status)

        for k in range(consenting + refusing):
            ok = k < consenting
            s = Subject.objects.create(cohort=cohort, external_id=f"{tag}-{k}", birth_year=1970, sex="female",
                                       consent_research=True, consent_model_training=ok)
            out["consenting" if ok else "refusing"].append(s)
            out["sessions"]["consenting" if ok else "refusing"].append(session(s, k))
        first = out["consenting"][0]
        for i in range((extra or {}).get("failed", 0)):
            out["sessions"]["failed"].append(session(first, 100 + i, status="failed"))
        for i in range((extra or {}).get("missing", 0)):
            out["sessions"]["missing"].append(session(first, 200 + i, stored=False))
    return out


class PooledPretrainingTest(APITestBase):
    def staff(self) -> APIClient:
        user = get_user_model().objects.create_user("platform-staff", password="pw-123456789", is_staff=True)
        return verified_login(APIClient(), user)

    def test_only_the_owner_changes_the_opt_in_and_every_change_is_audited(self):
        url = "/api/v1/organisation/"
        r = self.client_for(Role.VIEWER).get(url)
        assert r.status_code == 200 and r.json()["pooled_pretraining"] is False and r.json()["slug"] == "alpha"
        for role in (Role.ADMIN, Role.RESEARCHER, Role.VIEWER):
            r = self.client_for(role).patch(url, {"pooled_pretraining": True}, format="json")
            self.assertError(r, 403, "permission_denied")
        r = self.client_for(Role.OWNER).patch(url, {"pooled_pretraining": True, "reason": "board decision 12/2026"},
                                              format="json")
        assert r.status_code == 200 and r.json()["pooled_pretraining"] is True, r.content
        self.org.refresh_from_db()
        self.other.refresh_from_db()
        assert self.org.pooled_pretraining and not self.other.pooled_pretraining
        r = self.client_for(Role.OWNER).patch(url, {"pooled_pretraining": False}, format="json")
        assert r.json()["pooled_pretraining"] is False
        events = AuditEvent.unscoped.filter(action="organisation.pooled_pretraining").order_by("id")
        assert [(e.organisation_id, e.data["enabled"], e.data["reason"]) for e in events] == [
            (self.org.pk, True, "board decision 12/2026"), (self.org.pk, False, "")]

    def test_staff_may_change_it_through_the_action(self):
        from tenancy.actions import set_pooled_pretraining
        from tenancy.audit import Actor

        staff = get_user_model().objects.create_user("staff-2", is_staff=True)
        set_pooled_pretraining(Actor(user=staff, role="staff"), self.other, True, reason="contract signed")
        self.other.refresh_from_db()
        assert self.other.pooled_pretraining
        e = AuditEvent.unscoped.get(action="organisation.pooled_pretraining")
        assert e.organisation_id == self.other.pk and e.actor_user == staff

    def test_the_global_snapshot_takes_only_opted_in_organisations_consenting_subjects_and_stored_done_sessions(self):
        from registry.actions import freeze_global_snapshot

        a = seed_subjects(self.org, "a", consenting=3, refusing=2, extra={"failed": 1, "missing": 1})
        b = seed_subjects(self.other, "b", consenting=2, refusing=1)
        assert freeze_global_snapshot()["sessions"] == []  # nobody opted in (the default)
        self.org.pooled_pretraining = True
        self.org.save()
        snap = freeze_global_snapshot()
        assert [r["session"] for r in snap["sessions"]] == [s.pk for s in a["sessions"]["consenting"]]
        assert {r["organisation"] for r in snap["sessions"]} == {self.org.pk}
        assert {r["subject"] for r in snap["sessions"]} == {s.pk for s in a["consenting"]}
        assert all(r["sha256"] == s.sha256 for r, s in zip(snap["sessions"], a["sessions"]["consenting"], strict=True))
        assert snap["included"] == {"organisations": 1, "subjects": 3, "sessions": 3}
        assert snap["excluded"] == {
            "organisation_not_opted_in": {"organisations": 1, "subjects": 3, "sessions": 3},
            "no_training_consent": {"subjects": 2, "sessions": 2},
            "session_not_done": {"sessions": 1}, "session_file_missing": {"sessions": 1}}
        assert b["sessions"]["consenting"]  # B's consenting subjects stay out: B did not opt in

    def test_platform_endpoints_are_staff_only_and_global_jobs_stay_out_of_tenant_endpoints(self):
        seed_subjects(self.org, "a", consenting=2, refusing=0)
        self.org.pooled_pretraining = True
        self.org.save()
        body = {"kind": "pretrain-encoder", "config": TINY}
        for role in Role.values:  # every organisation role, by token
            r = self.client_for(role).post(URL, body, format="json")
            self.assertError(r, 403, "permission_denied")
            self.assertError(self.client_for(role).get(URL), 403, "permission_denied")
        owner_web = verified_login(APIClient(), make_member(self.org, Role.OWNER))  # a web session, not staff
        self.assertError(owner_web.post(URL, body, format="json"), 403, "permission_denied")
        staff = self.staff()
        with mock.patch("registry.actions.send_task") as send, self.captureOnCommitCallbacks(execute=True):
            r = staff.post(URL, body, format="json")
        assert r.status_code == 201, r.content
        job = r.json()
        send.assert_called_once_with("workers.training.dispatch", [job["id"]], "training")
        assert job["kind"] == "pretrain-encoder" and job["scope"] == "global" and job["state"] == "queued"
        assert job["n_sessions"] == 2 and job["included"] == {"organisations": 1, "subjects": 2, "sessions": 2}
        assert job["excluded"]["organisation_not_opted_in"]["organisations"] == 1
        assert staff.get(URL).json()["results"][0]["id"] == job["id"]
        logs = staff.get(f"{URL}{job['id']}/logs/").json()
        assert "2 sessions of 2 subjects in 1 organisations" in logs[0]["message"]
        # the organisation's members never see it: not listed, not found
        owner = self.client_for(Role.OWNER)
        assert job["id"] not in {j["id"] for j in owner.get("/api/v1/training-jobs/").json()["results"]}
        self.assertError(owner.get(f"/api/v1/training-jobs/{job['id']}/"), 404, "not_found")
        self.assertError(owner.post(f"/api/v1/training-jobs/{job['id']}/cancel/"), 404, "not_found")
        self.assertError(owner.post(f"{URL}{job['id']}/cancel/"), 403, "permission_denied")
        r = staff.post(f"{URL}{job['id']}/cancel/")
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.content
        actions = list(AuditEvent.unscoped.filter(organisation__isnull=True).values_list("action", flat=True)
                       .order_by("id"))
        assert actions == ["training_job.create", "training_job.cancel"]

    def test_bad_requests_are_refused_with_the_reason(self):
        staff = self.staff()
        r = staff.post(URL, {"config": TINY}, format="json")
        assert r.status_code == 400 and "no session may enter pooled pretraining" in r.content.decode()
        seed_subjects(self.org, "a", consenting=1, refusing=0)
        self.org.pooled_pretraining = True
        self.org.save()
        for config, why in (({"config": "huge"}, "one of tiny, small, paper"), ({"steps": 0}, "steps"),
                            ({"data": "/elsewhere"}, "always come from the job's snapshot"),
                            ({"nodes": 2}, "unknown keys: nodes")):
            r = staff.post(URL, {"config": {**TINY, **config}}, format="json")
            assert r.status_code == 400 and why in r.content.decode(), (config, r.content)
        r = staff.post(URL, {"config": {**TINY, "nodes": 2}, "launcher": "kubernetes"}, format="json")
        assert r.status_code == 201, r.content  # a kubernetes job may say how many nodes
        from tests.registry_support import shipped_encoder

        r = staff.post(URL, {"config": TINY, "encoder": shipped_encoder().version_tag}, format="json")
        assert r.status_code == 400 and "needs the same config" in r.content.decode()
