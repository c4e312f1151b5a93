"""API-wide acceptance tests, generated from the URL configuration: tenant isolation on every route and
method, constant list query counts, the OpenAPI schema, the error format."""

from __future__ import annotations

import io
import json

import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient
from tenancy.models import Role

from tests.platform.base import APITestBase, count_queries
from tests.platform.factories import seed_everything
from tests.platform.routes import METHODS, SUMMARY, api_routes


class TenantIsolationTest(APITestBase):
    """A member of organisation B (with the strongest role) gets 404 -- or 405 for a method the route
    does not have -- on every route and method that names one of A's objects, and sees none of A's
    objects in any list."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.mine = seed_everything(cls.org, "aaa")
        cls.theirs = seed_everything(cls.other, "bbb")

    def a_object(self, model):
        return self.mine[model._meta.model_name][0]

    def request(self, client, method, url):
        if method == "put" and url.endswith("/chunk/"):
            return client.put(url, b"xx", content_type="application/offset+octet-stream", HTTP_UPLOAD_OFFSET="0")
        return getattr(client, method)(url, {} if method == "get" else json.dumps({}),
                                       **({} if method == "get" else {"content_type": "application/json"}))

    def test_every_route_isolates_tenants(self):
        routes = api_routes()
        b = self.client_for(Role.OWNER, org=self.other)
        a = self.client_for(Role.OWNER)
        markers = [self.org.slug, "SUBJ-aaa", "cohort-aaa", "labels-aaa"]
        checked = 0
        for route in routes:
            if route.platform:
                checked += self.check_platform_route(route, [a, b])
                continue
            if route.detail:
                self.assertIsNotNone(route.model, f"{route.path}: detail routes must come from a TenantViewSet")
                obj = self.a_object(route.model)
                url = reverse(f"v1:{route.name}", kwargs={"pk": obj.pk})
                if "get" in route.methods:  # the id is real: A itself can read it
                    self.assertEqual(a.get(url).status_code, 200, f"A cannot read its own {url}")
                for method in METHODS:
                    r = self.request(b, method, url)
                    expected = 404 if method in route.methods else 405
                    self.assertEqual(r.status_code, expected, f"B {method.upper()} {url} -> {r.status_code} {r.content[:300]}")
                    self.assertNotIn(str(obj.pk).encode() + b'"', r.content.replace(b'"id":', b""), url)
                    checked += 1
            else:
                url = reverse(f"v1:{route.name}")
                r = b.get(url)
                self.assertEqual(r.status_code, 200, f"B GET {url} -> {r.status_code}")
                body = r.content.decode()
                for marker in markers:
                    self.assertNotIn(marker, body, f"B sees {marker!r} of A at {url}")
                if route.model is not None:
                    mine = {str(o.pk) for o in self.mine.get(route.model._meta.model_name, [])}
                    got = {str(row["id"]) for row in r.json()["results"]}
                    self.assertFalse(mine & got, f"B lists A's objects at {url}")
                    theirs = {str(o.pk) for o in self.theirs.get(route.model._meta.model_name, [])}
                    self.assertTrue(theirs <= got, f"B does not see its own objects at {url}")
                checked += 1
        line = f"tenant isolation: {len(routes)} routes covered, {checked} route/method checks"
        print("\n" + line)
        SUMMARY.append(line)
        self.assertGreaterEqual(len(routes), 30)

    def check_platform_route(self, route, members) -> int:
        """A platform-staff route: every organisation member (tokens of owners of A and B, and an owner's
        web session) gets 403 on every method, for a global object and for A's own object alike; staff
        read it (200)."""
        from registry.models import TrainingJob

        from tests.platform.factories import make_member, verified_login

        if route.model is not TrainingJob:
            return self.check_global_route(route, members)
        glob = TrainingJob.for_platform(kind="pretrain-encoder", scope="global", state="succeeded", reason="seeded",
                                        config={}, config_hash="0" * 64)
        glob.save()
        web = verified_login(APIClient(), make_member(self.org, Role.OWNER))
        staff_user = get_user_model().objects.create_user(f"staff-{route.name}", password="pw-123456789", is_staff=True)
        staff = verified_login(APIClient(), staff_user)
        checked = 0
        ids = [glob.pk, self.mine["trainingjob"][0].pk] if route.detail else [None]
        for pk in ids:
            url = reverse(f"v1:{route.name}", kwargs={"pk": pk} if pk else None)
            for client in [*members, web]:
                for method in METHODS:
                    r = self.request(client, method, url)
                    self.assertEqual(r.status_code, 403, f"member {method.upper()} {url} -> {r.status_code}")
                    checked += 1
            if "get" in route.methods:
                r = staff.get(url)
                # staff reach platform-level rows only: an organisation's job is not found here
                self.assertEqual(r.status_code, 404 if pk == self.mine["trainingjob"][0].pk else 200, url)
                if not route.detail:
                    self.assertEqual({row["id"] for row in r.json()["results"]} & {self.mine["trainingjob"][0].pk},
                                     set(), "an organisation's job listed among the global ones")
        glob.delete()
        return checked

    def check_global_route(self, route, members) -> int:
        """A platform-staff route of global rows (encoders, encoder rollouts: no organisation at all): every
        organisation member gets 403 on every method; staff read it (200)."""
        from registry.models import EncoderRollout, EncoderVersion

        from tests.platform.factories import make_member, verified_login
        from tests.registry_support import shipped_encoder

        enc = shipped_encoder()
        obj = (EncoderRollout.objects.get_or_create(from_encoder=enc, to_encoder=enc)[0]
               if route.model is EncoderRollout else enc)
        web = verified_login(APIClient(), make_member(self.org, Role.OWNER))
        staff_user = get_user_model().objects.create_user(f"staff-{route.name}", password="pw-123456789", is_staff=True)
        staff = verified_login(APIClient(), staff_user)
        url = reverse(f"v1:{route.name}", kwargs={"pk": obj.pk} if route.detail else None)
        checked = 0
        for client in [*members, web]:
            for method in METHODS:
                r = self.request(client, method, url)
                self.assertEqual(r.status_code, 403, f"member {method.upper()} {url} -> {r.status_code}")
                checked += 1
        if "get" in route.methods:
            self.assertEqual(staff.get(url).status_code, 200, url)
        assert EncoderVersion.objects.exists()
        return checked

    def test_weaker_roles_cannot_tell_another_organisations_object_from_a_missing_one(self):
        """Whatever B's role, A's object id answers exactly like an id that exists nowhere (no oracle)."""
        import uuid

        from tests.platform.factories import make_token

        for role in (Role.VIEWER, Role.CLINICIAN, Role.RESEARCHER):
            from rest_framework.test import APIClient

            b = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_token(self.other, role)}")
            for route in [r for r in api_routes() if r.detail and not r.platform]:
                obj = self.a_object(route.model)
                missing = uuid.uuid4() if isinstance(obj.pk, uuid.UUID) else 10**9
                for method in METHODS:
                    got = self.request(b, method, reverse(f"v1:{route.name}", kwargs={"pk": obj.pk})).status_code
                    none = self.request(b, method, reverse(f"v1:{route.name}", kwargs={"pk": missing})).status_code
                    self.assertEqual(got, none, f"{role} {method.upper()} {route.path}: {got} for A's id, {none} for none")
                    self.assertIn(got, (403, 404, 405))


def test_every_api_view_derives_from_the_tenant_base_viewset():
    from tenancy.api.base import TenantViewSet
    from tenancy.api.platform import PlatformViewSet
    from tenancy.api.views import MeView

    allowed = {MeView}  # reads only the caller's own memberships
    offenders = sorted({r.path for r in api_routes() if not issubclass(r.view, TenantViewSet) and r.view not in allowed
                        and not (issubclass(r.view, PlatformViewSet) and r.path.startswith("api/v1/platform/"))})
    assert offenders == [], f"API views outside the tenant base viewset: {offenders}"


class ListQueryCountTest(APITestBase):
    """Every list endpoint runs the same number of queries for a page of 1 and a page of 100."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        for tag in ("x1", "x2", "x3"):
            seed_everything(cls.org, tag, n_sessions=3)

    def test_list_query_counts_do_not_grow_with_page_size(self):
        client = self.client_for(Role.OWNER)
        client.get(reverse("v1:me"))  # the token's first use records last_used_at
        lists = [r for r in api_routes() if not r.detail and r.model is not None and "get" in r.methods
                 and not r.platform]
        self.assertGreaterEqual(len(lists), 10)
        for route in lists:
            url = reverse(f"v1:{route.name}")
            sizes = []
            for limit in (1, 100):
                def get(limit=limit, url=url, sizes=sizes):
                    r = client.get(url, {"limit": limit})
                    self.assertEqual(r.status_code, 200, url)
                    sizes.append(len(r.json()["results"]))
                sizes.append(count_queries(get))
            self.assertGreater(sizes[2], 1, f"{url}: seed more rows")
            self.assertEqual(sizes[1], sizes[3], f"{url}: {sizes[1]} queries for 1 row, {sizes[3]} for {sizes[2]} rows")


class SchemaTest(APITestBase):
    def test_schema_validates_and_lists_every_endpoint(self):
        out = io.StringIO()
        call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
        schema = yaml.safe_load(out.getvalue())
        paths = schema["paths"]
        for route in api_routes():
            self.assertIn(route.openapi_path, paths, f"{route.path} missing from the schema")
            for method in route.methods:
                self.assertIn(method, paths[route.openapi_path], f"{method} {route.path} missing from the schema")

    def test_schema_and_docs_are_served_without_cdn(self):
        self.client.force_login(self._user())
        r = self.client.get("/api/schema/ui/")
        self.assertEqual(r.status_code, 200)
        self.assertNotIn(b"cdn.jsdelivr", r.content)
        self.assertNotIn(b"unpkg.com", r.content)
        self.assertEqual(self.client.get("/api/schema/").status_code, 200)

    def _user(self):
        from tests.platform.factories import make_member

        return make_member(self.org, Role.VIEWER)


class ErrorFormatTest(APITestBase):
    def test_unauthenticated_requests_get_401_in_the_error_format(self):
        from rest_framework.test import APIClient

        r = APIClient().get(reverse("v1:cohort-list"))
        self.assertError(r, 401, "not_authenticated")
        r = APIClient(HTTP_AUTHORIZATION="Bearer gait_nope_nope").get(reverse("v1:cohort-list"))
        self.assertError(r, 401, "authentication_failed")

    def test_unknown_object_is_404_in_the_error_format(self):
        self.assertError(self.client_for().get(reverse("v1:cohort-detail", kwargs={"pk": 999999})), 404, "not_found")
