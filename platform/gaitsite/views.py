"""Site-level pages (the organisation dashboards live in their own app)."""

from django.shortcuts import render

from .health import is_internal, run_checks


def home(request):
    """The landing page; the parts' status and details only for internal callers (as ``/healthz``)."""
    return render(request, "gaitsite/home.html", {"parts": run_checks() if is_internal(request) else None})


def not_found(request, exception=None):
    """404 for a path no route matches: the API's JSON error format under ``/api/``, a plain page elsewhere."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path_info.startswith("/api/"):
        return JsonResponse({"error": {"status": 404, "code": "not_found",
                                       "message": f"no API route matches {request.path_info!r}"}}, status=404)
    return page_not_found(request, exception)
