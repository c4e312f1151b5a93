"""Content negotiation of the API (a module of its own: DRF's views import it while being defined)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answering the Accept headers API clients send (``application/json``, ``*/*`` or
    none) without parsing them: the first renderer when it is JSON -- what DRF's negotiation picks for
    them, with the same media type. Any other header, a format suffix or ``?format=`` goes through DRF."""

    plain_accepts = frozenset({"*/*", "application/json"})

    def select_renderer(self, request, renderers, format_suffix=None):
        override = self.settings.URL_FORMAT_OVERRIDE
        if not format_suffix and renderers and renderers[0].media_type == "application/json" and \
                request.META.get("HTTP_ACCEPT", "*/*") in self.plain_accepts and \
                not (override and request.query_params.get(override)):
            return renderers[0], "application/json"
        return super().select_renderer(request, renderers, format_suffix)
