"""Sign-in pages: the throttled login (with a TOTP code for owners and admins) and TOTP enrolment."""

from __future__ import annotations

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login

from .audit import Actor, record
from .logins import LoginForm, confirmed_device
from .models import Membership
from .scope import organisation_scope

ENROL_NAME = "authenticator app"


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm

    def form_valid(self, form):
        response = super().form_valid(form)
        device = getattr(form, "otp_device", None)
        if device is not None:
            otp_login(self.request, device)
        return response


class CodeForm(forms.Form):
    otp_token = forms.CharField(label="Code from the app", max_length=8,
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


@never_cache  # shows the device's secret
@login_required
def second_factor(request):
    """Enrol a TOTP device (scan the QR code or type the key, then confirm with a code). An enrolled user
    who reaches this page without a verified session (an older login) confirms a code here."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = request.user
    device = confirmed_device(user)
    enrolling = device is None
    if enrolling:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name=ENROL_NAME, confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["otp_token"].strip()):
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                for m in Membership.unscoped.select_related("organisation").filter(user=user):
                    with organisation_scope(m.organisation):  # each organisation's log shows it
                        record(Actor(user=user, role=m.role), "account.totp_enrol", user=user.username)
            otp_login(request, device)
            nxt = request.GET.get("next", "")
            safe = url_has_allowed_host_and_scheme(nxt, {request.get_host()}, require_https=request.is_secure())
            return redirect(nxt if nxt and safe else "dashboards:home")
        form.add_error("otp_token", "That code is not right (or has expired): enter the current one.")
    ctx = {"form": form, "enrolling": enrolling}
    if enrolling:
        import segno

        ctx["secret"] = _base32(device.bin_key)
        ctx["uri"] = device.config_url
        ctx["qr_svg"] = segno.make(device.config_url, error="m").svg_inline(scale=4)
    return render(request, "tenancy/second_factor.html", ctx)


def _base32(key: bytes) -> str:
    import base64

    return base64.b32encode(key).decode().rstrip("=")
