"""Shared base classes of the platform API tests (NetBox style: each app's test_api.py builds on them).

``APITestBase`` gives two organisations (``org`` and ``other``), a token for every role in ``org``
(``self.client_for(role)``), and URL helpers. ``CRUDTests`` runs the standard checks for a viewset once
a subclass says how to make objects and what to post.
"""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient, APITestCase
from tenancy.models import AuditEvent, Role
from tenancy.scope import organisation_scope

from tests.platform.factories import make_org, make_token


class APITestBase(APITestCase):
    @classmethod
    def setUpTestData(cls):
        cls.org = make_org("alpha")
        cls.other = make_org("beta")
        cls.tokens = {role: make_token(cls.org, role) for role in Role.values}
        cls.other_token = make_token(cls.other, Role.OWNER)

    def client_for(self, role: str = Role.OWNER, org=None) -> APIClient:
        client = APIClient()
        raw = self.tokens[role] if org is None or org == self.org else self.other_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    @staticmethod
    def url(name: str, **kwargs) -> str:
        return reverse(f"v1:{name}", kwargs=kwargs or None)

    def scope(self, org=None):
        return organisation_scope(org or self.org)

    def audit_actions(self, org=None) -> list[str]:
        with self.scope(org):
            return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))

    def assertError(self, response, status: int, code: str | None = None):
        self.assertEqual(response.status_code, status, response.content[:2000])
        body = response.json()
        self.assertIn("error", body)
        self.assertEqual(body["error"]["status"], status)
        self.assertTrue(body["error"]["message"])
        if code:
            self.assertEqual(body["error"]["code"], code, body)
        return body["error"]


def count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


class CRUDTests:
    delete_status, delete_verb = 204, "delete"  # subjects: 200 with an erasure report, "subject.erase"
    """Mixin for an APITestBase subclass. Set ``basename``, ``write_role``, ``denied_role`` and implement
    ``make_object(i)`` (inside the scope), ``create_data()`` and ``update_data``."""

    basename: str
    write_role: str = Role.OWNER
    denied_role: str = Role.VIEWER
    update_data: dict = {}
    audit_prefix: str = ""

    def make_object(self, i: int):
        raise NotImplementedError

    def create_data(self) -> dict:
        raise NotImplementedError

    def _make(self, n: int, start: int = 0):
        with self.scope():
            return [self.make_object(start + i) for i in range(n)]

    def test_list_and_retrieve(self):
        objs = self._make(3)
        r = self.client_for(Role.VIEWER).get(self.url(f"{self.basename}-list"))
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["count"], len(objs))
        r = self.client_for(Role.VIEWER).get(self.url(f"{self.basename}-detail", pk=objs[0].pk))
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["id"], objs[0].pk)

    def test_list_query_count_does_not_grow_with_page_size(self):
        self._make(12)
        client = self.client_for(Role.VIEWER)
        url = self.url(f"{self.basename}-list")
        client.get(url)  # warm up: the token's first use records last_used_at
        small = count_queries(lambda: self.assertEqual(client.get(url, {"limit": 2}).status_code, 200))
        large = count_queries(lambda: self.assertEqual(client.get(url, {"limit": 12}).status_code, 200))
        self.assertEqual(small, large)

    def test_create_update_delete_are_audited(self):
        client = self.client_for(self.write_role)
        r = client.post(self.url(f"{self.basename}-list"), self.create_data(), format="json")
        self.assertEqual(r.status_code, 201, r.content)
        pk = r.json()["id"]
        r = client.patch(self.url(f"{self.basename}-detail", pk=pk), self.update_data, format="json")
        self.assertEqual(r.status_code, 200, r.content)
        for key, value in self.update_data.items():
            self.assertEqual(r.json()[key], value)
        r = client.delete(self.url(f"{self.basename}-detail", pk=pk))
        self.assertEqual(r.status_code, self.delete_status, r.content)
        actions = [a for a in self.audit_actions() if a.startswith(self.audit_prefix)]
        self.assertEqual(actions, [f"{self.audit_prefix}.create", f"{self.audit_prefix}.update",
                                   f"{self.audit_prefix}.{self.delete_verb}"])

    def test_role_without_write_permission_gets_403(self):
        r = self.client_for(self.denied_role).post(self.url(f"{self.basename}-list"), self.create_data(), format="json")
        self.assertError(r, 403, "permission_denied")

    def test_invalid_data_gives_400_in_the_error_format(self):
        r = self.client_for(self.write_role).post(self.url(f"{self.basename}-list"), {}, format="json")
        err = self.assertError(r, 400, "invalid")
        self.assertIn("details", err)

    def test_other_organisation_sees_nothing(self):
        obj = self._make(1)[0]
        client = self.client_for(Role.OWNER, org=self.other)
        self.assertEqual(client.get(self.url(f"{self.basename}-list")).json()["count"], 0)
        self.assertError(client.get(self.url(f"{self.basename}-detail", pk=obj.pk)), 404, "not_found")
