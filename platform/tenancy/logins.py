"""Password logins: failure throttling per account and per address, and the second factor (TOTP).

Throttling: each failed login counts against the username typed (whether or not such an account
exists, so the answers never tell) and against the client address, in fixed windows of
``LOGIN_LOCKOUT_SECONDS`` kept in the cache (Redis in production: shared by every server process).
Once an account has ``LOGIN_MAX_FAILURES`` failures in its window, every login to it is refused until the
window ends, the right password included (fail closed for the account); an address with
``LOGIN_MAX_FAILURES_PER_ADDRESS`` failures is refused for any account. A successful login clears the
account's count. If the cache is unreachable the login goes on (a log line says so): an outage of the
counters must not lock every user out.

Second factor: a user who is an owner or admin of any organisation (``TOTP_ROLES``) or staff signs in
with a TOTP code from their authenticator app (django-otp's TOTP device, RFC 6238, 30 s steps) once
enrolled; until enrolled, ``RequireSecondFactorMiddleware`` sends their web session to the enrolment
page and nothing else. API tokens are not affected (they carry no password).
"""

from __future__ import annotations

import hashlib
import logging

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

log = logging.getLogger("tenancy.logins")

LOCKED_MESSAGE = ("Too many failed sign-ins for this account or from this address. Sign-ins are paused for "
                  "{minutes} minutes; ask your organisation admin if you forgot your password.")


def _limits() -> tuple[int, int, int]:
    return (int(settings.LOGIN_MAX_FAILURES), int(settings.LOGIN_MAX_FAILURES_PER_ADDRESS),
            int(settings.LOGIN_LOCKOUT_SECONDS))


def _keys(username: str, address: str | None) -> tuple[str, str]:
    account = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:account:{account}", f"login-fail:address:{address or '-'}"


def is_locked(username: str, address: str | None) -> bool:
    per_account, per_address, _ = _limits()
    acc, addr = _keys(username, address)
    try:
        counts = cache.get_many([acc, addr])
    except Exception:  # noqa: BLE001 - counters unreachable: do not lock everybody out
        log.warning("login throttle: cache unreachable; not checking failures", exc_info=True)
        return False
    return counts.get(acc, 0) >= per_account or counts.get(addr, 0) >= per_address


def record_failure(username: str, address: str | None) -> None:
    _, _, window = _limits()
    for key in _keys(username, address):
        try:
            if not cache.add(key, 1, timeout=window):
                cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
        except Exception:  # noqa: BLE001
            log.warning("login throttle: cache unreachable; failure not counted", exc_info=True)
            return


def clear_failures(username: str) -> None:
    try:
        cache.delete(_keys(username, None)[0])
    except Exception:  # noqa: BLE001
        log.warning("login throttle: cache unreachable; count not cleared", exc_info=True)


def client_address(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


# --- the second factor ----------------------------------------------------------------------------------
def needs_second_factor(user) -> bool:
    """Owners and admins of any organisation (and staff) must sign in with a TOTP code."""
    from .models import Membership

    if not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
        return False
    roles = tuple(settings.TOTP_ROLES)
    if not roles:
        return False
    return bool(user.is_staff or user.is_superuser
                or Membership.unscoped.filter(user_id=user.pk, role__in=roles).exists())


def confirmed_device(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


class LoginForm(AuthenticationForm):
    """Django's login form, throttled, with a TOTP code for users who have enrolled a device."""

    otp_token = forms.CharField(label="Authenticator code", required=False, max_length=8,
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
                                help_text="Owners and admins: the 6-digit code of your authenticator app.")

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        if username and is_locked(username, address):
            raise forms.ValidationError(LOCKED_MESSAGE.format(minutes=max(1, _limits()[2] // 60)), code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            record_failure(username, address)
            raise
        user = self.get_user()
        device = confirmed_device(user) if user is not None and needs_second_factor(user) else None
        if device is not None:
            token = (self.cleaned_data.get("otp_token") or "").strip()
            if not token or not device.verify_token(token):
                record_failure(username, address)
                raise forms.ValidationError("Enter the current code of your authenticator app.", code="otp")
            self.otp_device = device
        clear_failures(username)
        return cleaned
