"""Per-token throttles (kept apart from the views: DRF imports them while defining APIView)."""

from __future__ import annotations

from rest_framework import throttling


class OrganisationRateThrottle(throttling.SimpleRateThrottle):
    """Per token (or per user for web sessions) request rate; ``GAIT_API_RATE``."""

    scope = "api"

    def get_cache_key(self, request, view):
        from .models import APIToken

        if isinstance(request.auth, APIToken):
            ident = f"token:{request.auth.pk}"
        elif getattr(request.user, "pk", None):
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class UploadRateThrottle(OrganisationRateThrottle):
    """Upload creations per token or user; ``GAIT_UPLOAD_RATE``."""

    scope = "upload"

    def allow_request(self, request, view):
        if getattr(view, "action", None) != "create":
            return True
        return super().allow_request(request, view)
