"""Surface headers: a strict Content-Security-Policy on pages, ``Cache-Control: no-store`` on the API."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.dashboards.seed import build_world
from tests.platform.factories import verified_login


class NoStoreTest(APITestBase):
    def test_every_api_answer_says_no_store(self):
        api = self.client_for(Role.VIEWER)
        for r in (api.get(self.url("cohort-list")), api.get(self.url("cohort-detail", pk=999_999)),
                  Client().get(self.url("cohort-list")), api.get("/api/schema/")):
            self.assertEqual(r["Cache-Control"], "no-store", (r.status_code, r.wsgi_request.path))


@pytest.mark.django_db
def test_pages_carry_a_strict_csp_and_inline_scripts_only_with_its_nonce(client):
    world = build_world(n_subjects=2)
    verified_login(client, world.admin)
    pages = ["/dashboard/", f"/dashboard/cohorts/{world.cohort.pk}/", f"/dashboard/subjects/{world.subject.pk}/",
             "/dashboard/manage/members/", "/dashboard/manage/tokens/"]
    for url in pages:
        r = client.get(url)
        assert r.status_code == 200, url
        policy = r["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, url
        assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"
        found = re.search(r"'nonce-([^']+)'", directives["script-src"])  # sent when a page used it
        nonce = found.group(1) if found else None
        body = r.content.decode()
        for tag in re.findall(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", body):  # inline code: nonce
            assert nonce and f'nonce="{nonce}"' in tag, (url, tag)
        assert not re.search(r"\son[a-z]+=\"", body), url  # no inline event handlers
        assert not re.search(r"<[^>]+\sstyle=\"", body), url  # no inline style attributes


def test_the_login_page_has_the_policy_too(client):
    r = client.get("/accounts/login/")
    assert "default-src 'self'" in r["Content-Security-Policy"]
