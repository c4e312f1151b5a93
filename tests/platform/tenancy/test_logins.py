"""Sign-in protection: failure throttling per account and per address, TOTP for owners and admins."""

from __future__ import annotations

import re
import time

import pytest
from django.core.cache import cache
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from tenancy.models import Role

from tests.platform.factories import make_member, make_org, totp_code

PASSWORD = "right-password-123"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _clean_counters():
    cache.clear()
    yield
    cache.clear()


def member(org, role, username):
    user = make_member(org, role, username=username)
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client, username, password, code=None, address="10.0.0.1"):
    data = {"username": username, "password": password}
    if code is not None:
        data["otp_token"] = code
    return client.post(LOGIN, data, REMOTE_ADDR=address)


def errors(response) -> str:
    return " ".join(re.findall(r'<ul class="errorlist[^"]*">(.*?)</ul>', response.content.decode(), re.S))


@pytest.mark.django_db
def test_an_account_is_locked_after_repeated_failures_even_for_the_right_password(settings):
    settings.LOGIN_MAX_FAILURES, settings.LOGIN_LOCKOUT_SECONDS = 5, 2
    member(make_org("locks"), Role.CLINICIAN, "cleo")
    client = Client()
    for _ in range(5):
        r = sign_in(client, "cleo", "wrong")
        assert r.status_code == 200 and "correct username and password" in errors(r)
    r = sign_in(client, "cleo", PASSWORD)  # the right password, during the lockout
    assert r.status_code == 200 and "Too many failed sign-ins" in errors(r)
    assert "_auth_user_id" not in client.session
    # an unknown name gets exactly the same answers (nothing tells whether it exists)
    for _ in range(5):
        assert "correct username and password" in errors(sign_in(Client(), "nobody-here", "wrong", address="10.0.0.2"))
    assert "Too many failed sign-ins" in errors(sign_in(Client(), "nobody-here", "x", address="10.0.0.2"))
    time.sleep(2.2)  # the window ends: the right password works again
    assert sign_in(client, "cleo", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_an_address_is_locked_after_failures_across_accounts(settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 4
    member(make_org("addr"), Role.CLINICIAN, "dora")
    for i in range(4):
        sign_in(Client(), f"guess-{i}", "wrong", address="10.9.9.9")
    assert "Too many failed sign-ins" in errors(sign_in(Client(), "dora", PASSWORD, address="10.9.9.9"))
    assert sign_in(Client(), "dora", PASSWORD, address="10.9.9.10").status_code == 302  # another address


@pytest.mark.django_db
def test_owners_and_admins_enrol_a_totp_device_and_then_sign_in_with_its_code():
    org = make_org("otp")
    member(org, Role.ADMIN, "ada")
    client = Client()
    assert sign_in(client, "ada", PASSWORD).status_code == 302  # no device yet: the password signs in...
    r = client.get("/dashboard/")  # ...but every page leads to the enrolment
    assert r.status_code == 302 and r["Location"].startswith("/accounts/2fa/")
    api = client.get("/api/v1/cohorts/")
    assert api.status_code == 403 and api.json()["error"]["code"] == "second_factor_required"
    page = client.get("/accounts/2fa/")
    assert page.status_code == 200 and b"<svg" in page.content and b"no-store" in page["Cache-Control"].encode()
    device = TOTPDevice.objects.get(user__username="ada", confirmed=False)
    assert re.search(r'id="totp-secret">([A-Z2-7]+)<', page.content.decode())
    valid = {totp_code(device, at=time.time() + d) for d in (-30, 0, 30)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    assert client.post("/accounts/2fa/", {"otp_token": wrong}).status_code == 200  # a wrong code enrols nothing
    time.sleep(1.1)  # django-otp throttles the device for 1 s after a wrong code
    r = client.post("/accounts/2fa/?next=/dashboard/", {"otp_token": totp_code(device)})
    assert r.status_code == 302 and r["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    # from now on the password alone is not enough
    fresh = Client()
    r = sign_in(fresh, "ada", PASSWORD)
    assert r.status_code == 200 and "current code of your authenticator app" in errors(r)
    r = sign_in(fresh, "ada", PASSWORD, code=totp_code(device, at=time.time() + 30))  # the next step's code
    assert r.status_code == 302
    assert fresh.get("/dashboard/").status_code == 200
    assert fresh.get("/api/v1/cohorts/").status_code == 200


@pytest.mark.django_db
def test_clinicians_sign_in_with_a_password_only():
    member(make_org("clin"), Role.CLINICIAN, "cora")
    client = Client()
    assert sign_in(client, "cora", PASSWORD).status_code == 302
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.django_db
def test_the_admin_signs_in_through_the_same_page():
    r = Client().get("/admin/login/?next=/admin/")
    assert r.status_code == 302 and r["Location"] == "/accounts/login/?next=/admin/"
