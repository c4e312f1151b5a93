"""Celery tasks of training jobs (queue ``training``): ``dispatch`` hands a job to its launcher,
``run`` runs it (``workers.training``), ``sweep_jobs`` ends or retries jobs whose worker died
(and ``workers.rollout.sweep_rollouts`` restarts encoder rollouts whose ticks stopped)."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger("workers")


@shared_task(name="workers.training.dispatch", ignore_result=True, acks_late=True)
def dispatch(job_id: int) -> dict:
    from workers.training import dispatch_job

    return dispatch_job(job_id)


@shared_task(name="workers.training.run", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def run(job_id: int) -> dict:
    from workers.training import run_job

    return run_job(job_id)


@shared_task(name="workers.training.sweep", ignore_result=True, soft_time_limit=120, time_limit=180)
def sweep() -> dict:
    from workers.jobs_sweeper import sweep_jobs
    from workers.rollout import sweep_rollouts

    return sweep_jobs() | {"rollouts": sweep_rollouts()}
