"""Tenancy: the fail-closed scope, API tokens, members, the audit log, web-session organisation choice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cohorts.models import Cohort
from django.utils import timezone
from rest_framework.test import APIClient
from tenancy.models import APIToken, AuditEvent, Membership, Role, hash_token
from tenancy.scope import NoOrganisationScope, organisation_scope

from tests.platform.base import APITestBase, count_queries
from tests.platform.factories import make_member, make_org, verified_login


@pytest.mark.django_db
def test_scoped_manager_fails_closed_outside_a_scope():
    org = make_org("solo")
    with organisation_scope(org):
        Cohort.objects.create(name="c")
    with pytest.raises(NoOrganisationScope):
        list(Cohort.objects.all())
    with pytest.raises(NoOrganisationScope):
        Cohort.objects.count()
    with pytest.raises(NoOrganisationScope):
        Cohort.objects.filter(name="c").update(name="d")
    with pytest.raises(NoOrganisationScope):
        Cohort.objects.create(name="x")
    # as a subquery outside a scope it matches nothing rather than everything
    assert Cohort.unscoped.filter(pk__in=Cohort.objects.values("pk")).count() == 0
    assert Cohort.unscoped.count() == 1


@pytest.mark.django_db
def test_scope_hides_other_organisations_and_refuses_cross_tenant_creates():
    a, b = make_org("a1"), make_org("b1")
    with organisation_scope(a):
        Cohort.objects.create(name="mine")
    with organisation_scope(b):
        assert list(Cohort.objects.values_list("name", flat=True)) == []
        with pytest.raises(NoOrganisationScope):
            Cohort.objects.create(name="sneaky", organisation=a)


class TokenAPITest(APITestBase):
    def test_token_is_shown_once_hashed_at_rest_and_works(self):
        r = self.client_for(Role.ADMIN).post(self.url("apitoken-list"), {"name": "uploader", "role": "clinician",
                                                                           "expires_in_days": 30}, format="json")
        self.assertEqual(r.status_code, 201, r.content)
        raw = r.json()["token"]
        self.assertTrue(raw.startswith("gait_"))
        with self.scope():
            token = APIToken.objects.get(pk=r.json()["id"])
        self.assertEqual(token.key_hash, hash_token(raw))
        self.assertNotIn(raw, str(APIToken.unscoped.filter(pk=token.pk).values().get()))
        listed = self.client_for(Role.ADMIN).get(self.url("apitoken-detail", pk=token.pk)).json()
        self.assertNotIn("token", listed)
        client = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
        me = client.get(self.url("me")).json()
        self.assertEqual((me["organisation"]["slug"], me["role"]), ("alpha", "clinician"))
        token.refresh_from_db()
        self.assertIsNotNone(token.last_used_at)
        client.get(self.url("me"))
        actions = self.audit_actions()
        self.assertIn("token.create", actions)
        self.assertEqual(actions.count("token.first_use"), 1)

    def test_revoked_and_expired_tokens_are_refused(self):
        r = self.client_for().post(self.url("apitoken-list"), {"name": "t", "role": "viewer"}, format="json").json()
        client = APIClient(HTTP_AUTHORIZATION=f"Bearer {r['token']}")
        self.assertEqual(client.get(self.url("cohort-list")).status_code, 200)
        self.assertEqual(self.client_for().post(self.url("apitoken-revoke", pk=r["id"])).status_code, 200)
        self.assertError(client.get(self.url("cohort-list")), 401, "authentication_failed")
        r = self.client_for().post(self.url("apitoken-list"), {"name": "t2", "role": "viewer"}, format="json").json()
        APIToken.unscoped.filter(pk=r["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
        self.assertError(APIClient(HTTP_AUTHORIZATION=f"Bearer {r['token']}").get(self.url("cohort-list")), 401)
        self.assertIn("token.revoke", self.audit_actions())

    def test_token_role_scopes_what_it_can_do(self):
        self.assertError(self.client_for(Role.VIEWER).post(self.url("cohort-list"), {"name": "x"}, format="json"), 403)
        self.assertEqual(self.client_for(Role.ADMIN).post(self.url("cohort-list"), {"name": "x"}, format="json").status_code, 201)

    def test_an_admin_cannot_mint_an_owner_token_and_clinicians_cannot_list_tokens(self):
        r = self.client_for(Role.ADMIN).post(self.url("apitoken-list"), {"name": "t", "role": "owner"}, format="json")
        self.assertError(r, 403)
        self.assertError(self.client_for(Role.CLINICIAN).get(self.url("apitoken-list")), 403)

    def test_expiry_is_bounded(self):
        r = self.client_for().post(self.url("apitoken-list"), {"name": "t", "role": "viewer", "expires_in_days": 4000},
                                   format="json")
        self.assertError(r, 400)

    def test_throttling_is_per_token(self):
        from django.core.cache import cache
        from rest_framework.settings import api_settings
        from tenancy.throttles import OrganisationRateThrottle

        cache.clear()
        OrganisationRateThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "api": "3/min"}
        try:
            a, b = self.client_for(Role.VIEWER), self.client_for(Role.RESEARCHER)
            codes = [a.get(self.url("cohort-list")).status_code for _ in range(4)]
            self.assertEqual(codes, [200, 200, 200, 429])
            self.assertEqual(b.get(self.url("cohort-list")).status_code, 200)  # another token, own budget
            self.assertError(a.get(self.url("cohort-list")), 429, "throttled")
        finally:
            del OrganisationRateThrottle.THROTTLE_RATES  # back to the class default (the settings)
            cache.clear()


    def test_the_upload_throttle_counts_uploads_only(self):
        from django.core.cache import cache
        from rest_framework.settings import api_settings
        from tenancy.throttles import UploadRateThrottle

        from tests.platform.factories import session_file_bytes, sha256

        cache.clear()
        UploadRateThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "upload": "2/hour"}
        try:
            admin = self.client_for(Role.ADMIN)
            for i in range(4):  # cohorts (and subjects, tokens, members) are not uploads
                r = admin.post(self.url("cohort-list"), {"name": f"c{i}"}, format="json")
                self.assertEqual(r.status_code, 201, r.content)
            r = admin.post(self.url("subject-list"), {"cohort": r.json()["id"], "external_id": "S-9", "birth_year": 1970, "sex": "female"}, format="json")
            self.assertEqual(r.status_code, 201, r.content)
            subject = r.json()["id"]
            codes = []
            for i in range(3):
                data = session_file_bytes(seed=30 + i)
                codes.append(admin.post(self.url("upload-list"), {
                    "subject": subject, "format": "gait-session", "size": len(data), "sha256": sha256(data)},
                    format="json", HTTP_IDEMPOTENCY_KEY=f"k{i}").status_code)
            self.assertEqual(codes, [201, 201, 429])
            self.assertEqual(admin.post(self.url("cohort-list"), {"name": "c9"}, format="json").status_code, 201)
        finally:
            del UploadRateThrottle.THROTTLE_RATES
            cache.clear()


class MemberAndAuditAPITest(APITestBase):
    def test_admin_manages_members_and_the_last_owner_stays(self):
        user = make_member(self.other, Role.VIEWER, username="carol")  # a member elsewhere may join too...
        admin = self.client_for(Role.OWNER)
        r = admin.post(self.url("membership-list"), {"username": "carol", "role": "researcher"}, format="json")
        self.assertEqual(r.status_code, 202, r.content)  # ...but only by accepting the invitation
        with self.scope():
            self.assertFalse(Membership.objects.filter(user=user).exists())
        key = r.json()["link"].rstrip("/").rsplit("/", 1)[1]
        web = APIClient()
        web.force_login(user)
        self.assertEqual(web.post(f"/dashboard/invite/{key}/").status_code, 302)
        with self.scope():
            m = Membership.objects.get(user=user)
        self.assertEqual(m.role, "researcher")
        r = admin.patch(self.url("membership-detail", pk=m.pk), {"role": "clinician"}, format="json")
        self.assertEqual(r.json()["role"], "clinician")
        with self.scope():
            self.assertEqual(Membership.objects.get(user=user).role, "clinician")
        owner = make_member(self.org, Role.OWNER, username="olga")
        with self.scope():
            m = Membership.objects.get(user=owner)
        self.assertError(admin.delete(self.url("membership-detail", pk=m.pk)), 400)  # the last owner
        self.assertError(self.client_for(Role.CLINICIAN).post(self.url("membership-list"),
                                                              {"username": "olga", "role": "viewer"}, format="json"), 403)
        actions = self.audit_actions()
        self.assertIn("invitation.create", actions)
        self.assertIn("invitation.accept", actions)
        self.assertIn("membership.update", actions)

    def test_inviting_a_name_never_tells_whether_it_exists(self):
        make_member(self.other, Role.VIEWER, username="bob")  # exists, in another organisation
        admin = self.client_for(Role.ADMIN)
        answers = []
        for name in ("bob", "no-such-user-xyz"):
            r = admin.post(self.url("membership-list"), {"username": name, "role": "viewer"}, format="json")
            self.assertEqual(r.status_code, 202, r.content)
            body = r.json()
            answers.append(sorted(body) + [body["state"], body["role"]])
        self.assertEqual(answers[0], answers[1])
        with self.scope():
            self.assertEqual(Membership.objects.filter(user__username="bob").count(), 0)

    def test_audit_log_is_for_admins_and_records_who(self):
        self.client_for(Role.ADMIN).post(self.url("cohort-list"), {"name": "audited"}, format="json")
        self.assertError(self.client_for(Role.RESEARCHER).get(self.url("auditevent-list")), 403)
        log = self.client_for(Role.ADMIN).get(self.url("auditevent-list"), {"action": "cohort."}).json()
        self.assertEqual(log["count"], 1)
        event = log["results"][0]
        self.assertEqual(event["action"], "cohort.create")
        self.assertTrue(event["actor"].startswith("token:"))
        with self.scope(self.other):
            self.assertFalse(AuditEvent.objects.filter(action="cohort.create").exists())

    def test_web_session_picks_the_organisation_by_header(self):
        user = make_member(self.org, Role.VIEWER, username="dora")
        with self.scope(self.other):
            Membership.objects.create(user=user, role=Role.ADMIN)
            Cohort.objects.create(name="beta-cohort")
        with self.scope():
            Cohort.objects.create(name="alpha-cohort")
        verified_login(self.client, user)  # an admin elsewhere: signed in with a second factor
        names = lambda **h: [c["name"] for c in self.client.get(self.url("cohort-list"), **h).json()["results"]]  # noqa: E731
        self.assertEqual(names(), ["alpha-cohort"])  # first membership by organisation name
        self.assertEqual(names(HTTP_X_ORGANISATION="beta"), ["beta-cohort"])
        stranger = make_org("gamma")
        r = self.client.get(self.url("cohort-list"), HTTP_X_ORGANISATION=stranger.slug)
        self.assertError(r, 404)
        self.client.post(self.url("me"), HTTP_X_ORGANISATION="beta")  # remember the choice in the session
        r = self.client.get(self.url("cohort-list"))
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(names(), ["beta-cohort"])

    def test_user_without_membership_gets_403(self):
        from django.contrib.auth import get_user_model

        self.client.force_login(get_user_model().objects.create_user("nobody", password="x-123456789"))
        self.assertError(self.client.get(self.url("cohort-list")), 403)

    def test_token_lookup_costs_one_query(self):
        client = self.client_for(Role.VIEWER)
        client.get(self.url("me"))
        n = count_queries(lambda: client.get(self.url("me")))
        self.assertLessEqual(n, 2)
