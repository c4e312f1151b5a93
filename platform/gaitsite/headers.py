"""Response headers of the surface: API answers are never cached, pages carry a strict CSP.

* ``NoStoreAPIMiddleware``: every ``/api/`` response (data, errors, the schema) says
  ``Cache-Control: no-store``: health data must stay out of browser, proxy and CDN caches.
* The Content-Security-Policy is django-csp's middleware configured in settings (``CONTENT_SECURITY_POLICY``):
  scripts and styles from this site only, inline ones only with the per-response nonce
  (``{{ request.csp_nonce }}``), no inline event handlers, no plugins, no framing, forms post to this site.
"""

from __future__ import annotations

API_PREFIX = "/api/"


class NoStoreAPIMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(API_PREFIX):
            response["Cache-Control"] = "no-store"
        return response
