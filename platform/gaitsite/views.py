"""Site-level pages (the organisation dashboards live in their own app)."""

from django.shortcuts import render

from .health import is_internal, run_checks


def home(request):
    """The landing page; the parts' status and details only for internal callers (as ``/healthz``)."""
    return render(request, "gaitsite/home.html", {"parts": run_checks() if is_internal(request) else None})
