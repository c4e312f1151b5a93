"""Organisation pages: thin views (selectors do the queries), every one through ``access.page``."""

from __future__ import annotations

from cohorts.models import Cohort, Subject
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from recordings.models import GaitSession
from tenancy.api.base import SESSION_ORG_KEY
from tenancy.models import Perm

from . import selectors
from .access import memberships_of, page


@page(Perm.READ)
def home(request):
    ctx = {"cohorts": selectors.cohorts_with_counts(), "recent": selectors.recent_sessions(),
           "counts": selectors.status_counts(), "qc_warnings": selectors.qc_warnings(),
           "failed": selectors.failed_sessions(), "qc_threshold_pct": int(selectors.QC_MISSING_WARN * 100)}
    return render(request, "dashboards/home.html", ctx)


@page(Perm.READ)
def status_json(request):
    """The home page's recent sessions, polled every few seconds."""
    return JsonResponse({"counts": selectors.status_counts(), "recent": selectors.recent_sessions()})


@require_POST
def switch_organisation(request):
    if not request.user.is_authenticated:
        raise Http404
    try:
        org_id = int(request.POST.get("organisation", ""))
    except ValueError:
        raise Http404 from None
    if not any(m.organisation_id == org_id for m in memberships_of(request.user)):
        raise Http404  # not a member: the organisation does not exist for this user
    request.session[SESSION_ORG_KEY] = org_id
    return redirect("dashboards:home")


@page(Perm.READ)
def cohort_profile(request, cohort_id: int):
    cohort = get_object_or_404(Cohort.objects, pk=cohort_id)
    filters = selectors.Filters.from_query(request.GET)
    compare_id = request.GET.get("compare", "")
    other = None
    if compare_id.isdigit() and int(compare_id) != cohort.pk:
        other = get_object_or_404(Cohort.objects, pk=int(compare_id))
    ctx = selectors.cohort_page(cohort, other, filters)
    return render(request, "dashboards/cohort.html", ctx)


@page(Perm.READ)
def cohort_subjects(request, cohort_id: int):
    cohort = get_object_or_404(Cohort.objects, pk=cohort_id)
    subjects = list(Subject.objects.filter(cohort=cohort).order_by("external_id")[:500])
    return render(request, "dashboards/cohort_subjects.html", {"cohort": cohort, "subjects": subjects})


@page(Perm.READ)
def subject_report(request, subject_id: int):
    subject = get_object_or_404(Subject.objects.select_related("cohort"), pk=subject_id)
    return render(request, "dashboards/subject.html", selectors.subject_page(subject))


@page(Perm.READ)
def subject_pdf(request, subject_id: int):
    from .pdf import subject_report_pdf

    subject = get_object_or_404(Subject.objects.select_related("cohort"), pk=subject_id)
    data = subject_report_pdf(selectors.subject_report(subject), organisation=request.organisation)
    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="gait-report-{subject.external_id}.pdf"'
    return resp


@page(Perm.READ)
def session_frames(request, session_id: int):
    from recordings import storage

    from .frames import session_frames as frames_of

    session = get_object_or_404(GaitSession.objects, pk=session_id)
    if not session.file_key:
        raise Http404("this session has no stored recording")
    try:
        data = storage.read(session.file_key)
    except OSError:
        raise Http404("the recording is not in storage") from None
    return JsonResponse(frames_of(data, session.file_key, request.GET.get("task")))


@page(Perm.READ)
def session_fhir(request, session_id: int):
    """The session's FHIR R4 Bundle as a download (the same document as ``/api/v1/fhir/sessions/{id}/``)."""
    from results.fhir import session_bundle

    session = get_object_or_404(GaitSession.objects.select_related("subject", "qc"), pk=session_id)
    resp = JsonResponse(session_bundle(session), content_type="application/fhir+json")
    resp["Content-Disposition"] = f'attachment; filename="gait-{session.subject.external_id}-{session.pk}.fhir.json"'
    return resp
