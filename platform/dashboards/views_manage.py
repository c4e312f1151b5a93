"""Management pages for org admins (and clinicians for subjects). Every write goes through an action
function (atomic + audited); errors of the actions are shown on the page."""

from __future__ import annotations

from cohorts import actions as cohort_actions
from cohorts.models import Cohort, PhenotypeTable, Subject
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from gaitsite.api import APIError
from rest_framework.exceptions import PermissionDenied as ActionDenied
from rest_framework.exceptions import ValidationError as ActionInvalid
from tenancy import actions as tenancy_actions
from tenancy import invitations
from tenancy.models import APIToken, Invitation, Membership, Perm

from . import forms, selectors
from .access import page

ACTION_ERRORS = (ActionInvalid, ActionDenied, APIError)


def _error_text(exc) -> str:
    detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
    if isinstance(detail, dict):  # form-wide errors ("__all__", "non_field_errors") without their key
        return "; ".join(f"{'' if k in ('__all__', 'non_field_errors') else k + ': '}"
                         f"{' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(map(str, detail))
    return str(detail)


def _run(request, fn, *args, ok: str = "", **kwargs):
    try:
        result = fn(*args, **kwargs)
    except ACTION_ERRORS as exc:
        messages.error(request, _error_text(exc))
        return None, False
    if ok:
        messages.success(request, ok)
    return result, True


# ---- members and invitations --------------------------------------------------------------------------
@never_cache  # may show an invitation link once
@page(Perm.MANAGE_MEMBERS)
def members(request):
    role = request.organisation_role
    inv_form = forms.InvitationForm(actor_role=role)
    new_link = None
    if request.method == "POST":
        if request.POST.get("form") == "invite":
            inv_form = forms.InvitationForm(request.POST, actor_role=role)
            if inv_form.is_valid():
                res, ok = _run(request, invitations.create_invitation, request.actor, **inv_form.cleaned_data)
                if ok:
                    new_link = request.build_absolute_uri(f"/dashboard/invite/{res[1]}/")
                    inv_form = forms.InvitationForm(actor_role=role)
    ctx = {"memberships": Membership.objects.select_related("user").order_by("user__username"),
           "inv_form": inv_form, "new_link": new_link,
           "invitations": Invitation.objects.order_by("-created_at")[:50],
           "role_choices": forms.role_choices(role)}
    return render(request, "dashboards/manage/members.html", ctx)


@require_POST
@page(Perm.MANAGE_MEMBERS)
def member_change(request, membership_id: int):
    m = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id)
    if request.POST.get("op") == "remove":
        _run(request, tenancy_actions.remove_member, request.actor, m, ok=f"{m.user.username} removed.")
    else:
        form = forms.RoleForm(request.POST, actor_role=request.organisation_role)
        if form.is_valid():
            _run(request, tenancy_actions.change_role, request.actor, m, form.cleaned_data["role"],
                 ok=f"{m.user.username} is now {form.cleaned_data['role']}.")
        else:
            messages.error(request, "Pick a role you may grant.")
    return redirect("dashboards:members")


@require_POST
@page(Perm.MANAGE_MEMBERS)
def invitation_revoke(request, invitation_id: int):
    inv = get_object_or_404(Invitation.objects, pk=invitation_id)
    _run(request, invitations.revoke_invitation, request.actor, inv, ok="Invitation revoked.")
    return redirect("dashboards:members")


def invitation_accept(request, key: str):
    """Open to anyone holding the link: log in (or create an account) and join. Unknown, revoked, expired
    and used links all show the same 404 page (nothing about the organisation)."""
    inv = invitations.find_invitation(key)
    if inv is None:
        return render(request, "dashboards/invite.html", {"invalid": True}, status=404)
    form = forms.SignupForm()
    if request.method == "POST":
        user = request.user if request.user.is_authenticated else None
        if user is None:
            form = forms.SignupForm(request.POST)
            if form.is_valid():
                User = get_user_model()
                if inv.username and form.cleaned_data["username"] != inv.username:
                    form.add_error("username", f"this invitation is for the user {inv.username!r}")
                elif User.objects.filter(username=form.cleaned_data["username"]).exists():
                    form.add_error("username", "taken: log in first, then open the link again")
                else:
                    with transaction.atomic():
                        user = User.objects.create_user(**form.cleaned_data)
        if user is not None:
            _, ok = _run(request, invitations.accept_invitation, user, inv, ok=f"You joined {inv.organisation.name}.")
            if ok:
                if not request.user.is_authenticated:
                    login(request, user)
                return redirect("dashboards:home")
    return render(request, "dashboards/invite.html", {"inv": inv, "form": form})


# ---- API tokens -----------------------------------------------------------------------------------------
@never_cache  # may show a token's secret once
@page(Perm.MANAGE_TOKENS)
def tokens(request):
    form, raw = forms.TokenForm(actor_role=request.organisation_role), None
    if request.method == "POST":
        form = forms.TokenForm(request.POST, actor_role=request.organisation_role)
        if form.is_valid():
            res, ok = _run(request, tenancy_actions.create_token, request.actor, **form.cleaned_data)
            if ok:
                raw = res[1]  # shown once, on this response only
                form = forms.TokenForm(actor_role=request.organisation_role)
    return render(request, "dashboards/manage/tokens.html",
                  {"form": form, "raw": raw, "tokens": APIToken.objects.select_related("created_by")[:200]})


@require_POST
@page(Perm.MANAGE_TOKENS)
def token_revoke(request, token_id: int):
    token = get_object_or_404(APIToken.objects, pk=token_id)
    _run(request, tenancy_actions.revoke_token, request.actor, token, ok=f"Token {token.name} revoked.")
    return redirect("dashboards:tokens")


# ---- cohorts ------------------------------------------------------------------------------------------------
@page(Perm.MANAGE_COHORTS)
def cohorts(request):
    form = forms.CohortForm()
    if request.method == "POST":
        form = forms.CohortForm(request.POST)
        if form.is_valid() and Cohort.objects.filter(name=form.cleaned_data["name"]).exists():
            form.add_error("name", f"A cohort named \u201c{form.cleaned_data['name']}\u201d already exists "
                                   "(archived cohorts count too): choose another name.")
        if form.is_valid():
            _, ok = _run(request, cohort_actions.create_cohort, request.actor, ok="Cohort created.", **form.cleaned_data)
            if ok:
                return redirect("dashboards:cohorts")
    return render(request, "dashboards/manage/cohorts.html",
                  {"form": form, "cohorts": selectors.cohorts_with_counts(include_archived=True)})


@require_POST
@page(Perm.MANAGE_COHORTS)
def cohort_change(request, cohort_id: int):
    cohort = get_object_or_404(Cohort.objects, pk=cohort_id)
    op = request.POST.get("op")
    if op == "rename":
        name = request.POST.get("name", "").strip()
        if Cohort.objects.filter(name=name).exclude(pk=cohort.pk).exists():
            messages.error(request, f"A cohort named \u201c{name}\u201d already exists (archived cohorts count too).")
            return redirect("dashboards:cohorts")
        _run(request, cohort_actions.update_cohort, request.actor, cohort, name=name, ok=f"Renamed to {name}.")
    elif op in ("archive", "restore"):
        _run(request, cohort_actions.archive_cohort, request.actor, cohort, op == "archive",
             ok=f"Cohort {cohort.name} {'archived' if op == 'archive' else 'restored'}.")
    return redirect("dashboards:cohorts")


# ---- subjects -------------------------------------------------------------------------------------------------
@page(Perm.WRITE_SUBJECTS)
def subjects(request):
    form, import_form, report = forms.SubjectForm(), forms.SubjectImportForm(), None
    if request.method == "POST" and request.POST.get("form") == "subject":
        form = forms.SubjectForm(request.POST)
        if form.is_valid():
            _, ok = _run(request, cohort_actions.create_subject, request.actor, ok="Subject created.", **form.cleaned_data)
            if ok:
                return redirect("dashboards:subjects")
    elif request.method == "POST" and request.POST.get("form") == "import":
        import_form = forms.SubjectImportForm(request.POST, request.FILES)
        if import_form.is_valid():
            report, _ = _run(request, cohort_actions.import_subjects, request.actor,
                             cohort=import_form.cleaned_data["cohort"], data=import_form.cleaned_data["file"].read())
    q = request.GET.get("q", "").strip()
    qs = Subject.objects.select_related("cohort").order_by("external_id")
    if q:
        qs = qs.filter(external_id__icontains=q)
    return render(request, "dashboards/manage/subjects.html",
                  {"form": form, "import_form": import_form, "report": report, "q": q,
                   "subjects": qs[:200], "move_form": forms.MoveSubjectsForm()})


@require_POST
@page(Perm.WRITE_SUBJECTS)
def subjects_move(request):
    form = forms.MoveSubjectsForm(request.POST)
    ids = [int(i) for i in request.POST.getlist("subject") if i.isdigit()]
    if form.is_valid() and ids:
        chosen = list(Subject.objects.filter(pk__in=ids))  # scoped: other organisations' ids match nothing
        n, ok = _run(request, cohort_actions.move_subjects, request.actor, chosen, form.cleaned_data["cohort"])
        if ok:
            messages.success(request, f"Moved {n} subject(s) to {form.cleaned_data['cohort'].name}.")
    else:
        messages.error(request, "Select subjects and a cohort to move them to.")
    return redirect("dashboards:subjects")


# ---- phenotype tables ------------------------------------------------------------------------------------------
@page(Perm.PHENOTYPES)
def phenotypes(request):
    form, table = forms.PhenotypeUploadForm(), None
    if request.method == "POST":
        form = forms.PhenotypeUploadForm(request.POST, request.FILES)
        if form.is_valid():
            table, _ = _run(request, cohort_actions.import_phenotype_table, request.actor, name=form.cleaned_data["name"],
                            cohort=form.cleaned_data["cohort"], data=form.cleaned_data["file"].read())
    return render(request, "dashboards/manage/phenotypes.html",
                  {"form": form, "table": table, "tables": PhenotypeTable.objects.select_related("cohort")[:100]})


# ---- audit ----------------------------------------------------------------------------------------------------
@page(Perm.READ_AUDIT)
def audit(request):
    offset = int(request.GET.get("offset", "0")) if request.GET.get("offset", "0").isdigit() else 0
    rows = selectors.audit_page(offset)
    return render(request, "dashboards/manage/audit.html",
                  {"events": rows[:50], "offset": offset, "next": offset + 50 if len(rows) > 50 else None,
                   "prev": max(0, offset - 50) if offset else None})


# ---- organisation settings -------------------------------------------------------------------------------
@page(Perm.MANAGE_MEMBERS)
def organisation(request):
    """The organisation's settings: pooled pretraining (owners change it; admins see it)."""
    org = request.organisation
    if request.method == "POST":
        enabled = request.POST.get("pooled_pretraining") == "on"
        res, ok = _run(request, tenancy_actions.set_pooled_pretraining, request.actor, org, enabled,
                       request.POST.get("reason", ""),
                       ok=f"Pooled pretraining is now {'on' if enabled else 'off'} (recorded in the audit log).")
        if ok:
            return redirect("dashboards:organisation")
    org.refresh_from_db()
    from tenancy.models import AuditEvent

    history = AuditEvent.objects.filter(action="organisation.pooled_pretraining").select_related("actor_user")[:20]
    return render(request, "dashboards/manage/organisation.html",
                  {"org": org, "history": history,
                   "may_change": tenancy_actions.may_change_organisation_settings(request.actor)})
