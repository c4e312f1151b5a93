"""The ``local`` launcher: a Celery task on the ``training`` queue of this deployment's workers."""

from __future__ import annotations

RUN_TASK = "workers.training.run"
QUEUE = "training"


class LocalLauncher:
    name = "local"

    def launch(self, job) -> dict:
        from workers.celery_app import app

        result = app.send_task(RUN_TASK, args=[job.pk], queue=QUEUE)
        return {"backend": self.name, "task": RUN_TASK, "queue": QUEUE, "task_id": str(result.id)}

    def cancel(self, job) -> None:
        return None  # the running task polls job.cancel_requested between folds and targets

    def alive(self, job) -> bool | None:
        return None  # Celery cannot tell reliably; the jobs sweeper reads the heartbeat
