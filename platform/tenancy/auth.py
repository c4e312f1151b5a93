"""API token authentication: ``Authorization: Bearer gait_<key id>_<secret>``.

The token's organisation and role decide what the request may do (never the creator's memberships).
Revoked, expired and unknown tokens all answer the same 401.
"""

from __future__ import annotations

import hmac

from rest_framework import authentication, exceptions

from . import tokencache
from .actions import touch_token
from .models import TOKEN_PREFIX, APIToken, hash_token


class TokenUser:
    """The request.user of a token request: authenticated, but no Django user (the token is the actor)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, token: APIToken) -> None:
        self.token = token
        self.username = f"token:{token.key_id}"

    def __str__(self) -> str:
        return self.username


class TokenAuthentication(authentication.BaseAuthentication):
    keywords = ("Bearer", "Token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("malformed Authorization header: expected 'Bearer <token>'")
        raw = header[1].decode(errors="replace")
        parts = raw.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        digest = hash_token(raw)
        token = tokencache.get(digest)  # verified tokens are remembered a few seconds (tenancy.tokencache)
        if token is None:
            token = APIToken.unscoped.select_related("organisation").filter(key_id=parts[1]).first()
            if token is not None and hmac.compare_digest(token.key_hash, digest):
                tokencache.remember(digest, token)
            else:
                token = None
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        touch_token(token, request.META.get("REMOTE_ADDR"))
        return TokenUser(token), token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
