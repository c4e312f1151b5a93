"""The organisation's models: predictor versions (CV metrics per target, the representation that won),
aliases and their history, training jobs (start, follow live, cancel). Writes go through
``registry.actions`` (atomic + audited)."""

from __future__ import annotations

from cohorts.models import PhenotypeTable
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from registry import actions as registry_actions
from registry.models import Alias, AliasEvent, JobLog, PredictorVersion, TrainingJob
from tenancy.models import Perm, role_can

from .access import page
from .views_manage import _run


def _job_status(job: TrainingJob) -> dict:
    logs = list(JobLog.objects.filter(job=job).order_by("-id").values_list("at", "message")[:30])
    return {"id": job.pk, "state": job.state, "reason": job.reason, "progress": job.progress,
            "predictor_version": getattr(getattr(job, "predictor", None), "pk", None),
            "cancel_requested": job.cancel_requested,
            "logs": [{"at": at.strftime("%H:%M:%S"), "message": m} for at, m in reversed(logs)]}


@page(Perm.READ)
def models_home(request):
    role = request.organisation_role
    if request.method == "POST" and role_can(role, Perm.TRAIN_MODELS):
        table = PhenotypeTable.objects.filter(pk=request.POST.get("label_table") or 0).first()
        reps = request.POST.getlist("representations") or None
        config = {"representations": reps} if reps else {}
        job, ok = _run(request, registry_actions.start_job, request.actor, kind="finetune-heads", label_table=table,
                       config=config, ok="Training job queued.")
        if ok:
            return redirect("dashboards:model-job", job_id=job.pk)
    versions = list(PredictorVersion.objects.select_related("encoder").prefetch_related("aliases")[:50])
    for v in versions:
        v.rows = [{"head": k, "metrics": {m: x["mean"] for m, x in cv.items() if isinstance(x, dict) and x.get("mean") is not None},
                   "representation": v.representation.get(k, {}).get("chosen", "")} for k, cv in sorted(v.cv_metrics.items())]
    return render(request, "dashboards/models/home.html", {
        "versions": versions, "aliases": Alias.objects.select_related("predictor"),
        "events": AliasEvent.objects.select_related("from_predictor", "to_predictor")[:20],
        "jobs": TrainingJob.objects.select_related("encoder").defer("snapshot")[:20],
        "tables": PhenotypeTable.objects.select_related("cohort")[:50],
        "can_train": role_can(role, Perm.TRAIN_MODELS), "can_manage": role_can(role, Perm.MANAGE_MODELS)})


@page(Perm.READ)
def model_job(request, job_id: int):
    job = get_object_or_404(TrainingJob.objects.select_related("encoder", "label_table").defer("snapshot"), pk=job_id)
    return render(request, "dashboards/models/job.html", {
        "job": job, "status": _job_status(job), "can_train": role_can(request.organisation_role, Perm.TRAIN_MODELS)})


@page(Perm.READ)
def model_job_status(request, job_id: int):
    """The job page's live progress, polled every second or two."""
    return JsonResponse(_job_status(get_object_or_404(TrainingJob.objects, pk=job_id)))


@require_POST
@page(Perm.TRAIN_MODELS)
def model_job_cancel(request, job_id: int):
    job = get_object_or_404(TrainingJob.objects, pk=job_id)
    _run(request, registry_actions.cancel_job, request.actor, job, ok="Cancel requested.")
    return redirect("dashboards:model-job", job_id=job.pk)


@require_POST
@page(Perm.MANAGE_MODELS)
def model_promote(request, version_id: int):
    v = get_object_or_404(PredictorVersion.objects, pk=version_id)
    _run(request, registry_actions.promote, request.actor, v, override_reason=request.POST.get("override_reason", ""),
         ok=f"{v.name} is the champion.")
    return redirect("dashboards:models")


@require_POST
@page(Perm.MANAGE_MODELS)
def model_rollback(request):
    _run(request, registry_actions.rollback, request.actor, reason=request.POST.get("reason", ""),
         ok="Champion rolled back to its previous version.")
    return redirect("dashboards:models")
