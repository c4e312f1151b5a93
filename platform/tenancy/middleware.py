"""Belt and braces: every request starts outside any organisation scope (whatever the thread held
before); the previous value is restored afterwards (tests run requests inside their own scope)."""

from .scope import _current


class ClearOrganisationScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current.set(None)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)


class RequireSecondFactorMiddleware:
    """A web session of an owner or admin (``tenancy.logins.needs_second_factor``) that has not been
    verified with a TOTP code reaches only the sign-in, sign-out and enrolment pages; pages redirect
    there, API calls answer 403 in the API's error format. API token requests carry no session and pass."""

    OPEN = ("/accounts/", "/static/", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)  # absent on API token requests (gaitsite.middleware.WebOnly)
        if user is None or request.path_info.startswith(self.OPEN) or not user.is_authenticated:
            return self.get_response(request)
        if user.is_verified():
            return self.get_response(request)
        from .logins import needs_second_factor

        if not needs_second_factor(user):
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            from django.http import JsonResponse

            message = "owners and admins must complete two-step sign-in first: /accounts/2fa/"
            return JsonResponse({"error": {"status": 403, "code": "second_factor_required", "message": message,
                                           "details": {}}}, status=403)
        from django.shortcuts import redirect
        from django.utils.http import urlencode

        return redirect(f"/accounts/2fa/?{urlencode({'next': request.get_full_path()})}")
