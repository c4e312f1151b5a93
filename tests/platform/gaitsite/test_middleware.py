"""gaitsite.middleware: the session, authentication and messages middleware skip API token
requests only; browsers (pages, the admin, API calls with a session) get them as before."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.test import RequestFactory
from gaitsite.middleware import is_api_token_request
from rest_framework.test import APIClient
from tenancy.models import Role

from tests.platform.base import APITestBase
from tests.platform.factories import make_member, verified_login


def test_which_requests_are_api_token_requests():
    rf = RequestFactory()
    yes = [("/api/v1/sessions/", "Bearer gait_x_y"), ("/api/v1/me/", "Token abc"), ("/api/schema/", " Bearer x"),
           ("/api/v1/sessions/", "Bearer  "), ("/api/v1/sessions/", "Bearer gait_ä")]
    no = [("/api/v1/sessions/", None), ("/api/v1/sessions/", ""), ("/api/v1/sessions/", "Basic dTpw"),
          ("/api/v1/sessions/", "Bearer"), ("/api/v1/sessions/", "bearer x"), ("/api/v1/sessions/", "Bearerx y"),
          ("/api/v1/sessions/", "\xa0Bearer x"), ("/dashboard/", "Bearer gait_x_y"), ("/admin/", "Token abc"),
          ("/apiv1/", "Bearer x")]
    for path, header in yes + no:
        extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
        assert is_api_token_request(rf.get(path, **extra)) is ((path, header) in yes), (path, header)


def test_djangos_checks_still_find_the_middleware():
    assert [m for m in settings.MIDDLEWARE if m.startswith("gaitsite.")]
    call_command("check")  # admin.E408/E409/E410 look for these middleware classes


class MiddlewareTest(APITestBase):
    def test_token_requests_answer_as_before_without_session_machinery(self):
        client = self.client_for(Role.VIEWER)
        r = client.get(self.url("session-list"))
        self.assertEqual(r.status_code, 200)
        self.assertFalse(hasattr(r.wsgi_request, "session"))
        self.assertNotIn("Cookie", r.get("Vary", ""))
        self.assertFalse(r.cookies)
        self.assertEqual(r["X-Frame-Options"], "DENY")  # the other middleware still runs
        self.assertError(APIClient().get(self.url("session-list"), HTTP_AUTHORIZATION="Bearer gait_no_such"), 401)

    def test_browser_sessions_keep_session_auth_and_csrf(self):
        user = make_member(self.org, Role.OWNER, username="erin")
        browser = APIClient(enforce_csrf_checks=True)
        verified_login(browser, user)
        r = browser.get(self.url("cohort-list"))
        self.assertEqual(r.status_code, 200)
        self.assertTrue(hasattr(r.wsgi_request, "session"))
        self.assertError(browser.post(self.url("cohort-list"), {"name": "x"}), 403)  # no CSRF token
        # a bogus Authorization header on a page does not lose the page's session
        page = browser.get("/dashboard/", HTTP_AUTHORIZATION="Bearer whatever")
        self.assertEqual(page.status_code, 200)
        self.assertEqual(page.wsgi_request.user, user)
