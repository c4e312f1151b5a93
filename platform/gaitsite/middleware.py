"""Browser-session middleware that stays out of the way of API token requests.

Django's session, authentication and messages middleware serve web pages (a session cookie,
``request.user`` from the session, flash messages). A request to the API that carries an API token
(``Authorization: Bearer ...``; ``tenancy.auth.TokenAuthentication``) uses none of them: the token
authenticates it or it is refused with a 401 before session authentication is tried, it reads no
session (``tenancy.api.base.resolve_organisation`` takes the token's organisation) and sets no cookie.
The subclasses below are Django's classes, so every check that looks for them (the admin's) still
finds them; for a token request under ``/api/`` they pass the request straight on. Every other request
-- pages, the admin, API calls from a logged-in browser -- goes through them exactly as before.
Django's CSRF middleware runs for every request as before (the deploy checks look for it by name; DRF's
views are exempt from it and check CSRF themselves for session-authenticated requests).
"""

from __future__ import annotations

from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware

API_PREFIX = "/api/"
TOKEN_KEYWORDS = (b"Bearer ", b"Token ")  # tenancy.auth.TokenAuthentication.keywords


def is_api_token_request(request) -> bool:
    """An ``/api/`` request whose Authorization header's first word is a token keyword (exactly the
    requests ``TokenAuthentication`` authenticates or refuses; read as DRF reads the header)."""
    auth = request.META.get("HTTP_AUTHORIZATION")
    if not auth or not request.path_info.startswith(API_PREFIX):
        return False
    if isinstance(auth, str):
        auth = auth.encode("iso-8859-1", "replace")
    return auth.lstrip().startswith(TOKEN_KEYWORDS)


class WebOnly:
    """Mixin: run the middleware unless the request is an API token request."""

    def __call__(self, request):
        if is_api_token_request(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(WebOnly, _SessionMiddleware):
    pass


class AuthenticationMiddleware(WebOnly, _AuthenticationMiddleware):
    pass


class MessageMiddleware(WebOnly, _MessageMiddleware):
    pass
