"""Site-level pages (the organisation dashboards live in their own app)."""

from django.shortcuts import render

from .health import run_checks


def home(request):
    return render(request, "gaitsite/home.html", {"parts": run_checks()})
