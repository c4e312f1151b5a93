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
