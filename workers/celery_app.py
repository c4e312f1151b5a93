"""The Celery application. Configuration comes from Django settings (``CELERY_*``).

Start a worker with ``celery -A workers.celery_app worker`` (all queues) or ``-Q preprocess`` / ``-Q inference``;
the sweeper runs under ``celery -A workers.celery_app beat``. The embedded development broker is
SQLite through kombu's SQLAlchemy transport: tasks still run in a separate worker process, as in
production with Redis or RabbitMQ.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_PLATFORM = Path(__file__).resolve().parents[1] / "platform"
if str(_PLATFORM) not in sys.path:  # platform/ holds the Django packages (it is not a package itself)
    sys.path.insert(0, str(_PLATFORM))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gaitsite.settings")

import django  # noqa: E402
from celery import Celery  # noqa: E402
from django.conf import settings  # noqa: E402
from kombu import Exchange, Queue  # noqa: E402

django.setup()

from recordings.dispatch import TASK_ROUTES  # noqa: E402

from workers import config as pipeline_config  # noqa: E402

_EMBEDDED_BROKER = str(settings.CELERY_BROKER_URL).startswith("sqla+")
if _EMBEDDED_BROKER:
    # the embedded broker, polled every 0.1 s instead of kombu's 1 s (see workers/embedded_broker.py)
    from kombu.transport import TRANSPORT_ALIASES

    TRANSPORT_ALIASES["sqla"] = "workers.embedded_broker:Transport"

app = Celery("gait")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Separate queues so one kind of work cannot starve another: a worker started without -Q consumes
# them all (development, tests); production runs `-Q preprocess` and `-Q inference` pools apart.
app.conf.task_queues = [Queue(q, Exchange(q), routing_key=q) for q in ("default", "preprocess", "inference", "training")]
app.conf.task_routes = TASK_ROUTES
app.conf.beat_schedule = {
    "sweep-stuck-sessions": {"task": "workers.pipeline.sweep", "schedule": float(pipeline_config.sweep_every_s())},
    "sweep-training-jobs": {"task": "workers.training.sweep", "schedule": 60.0},
}
if str(settings.CELERY_BROKER_URL).startswith("redis"):
    # Redis redelivers a message whose worker died after this many seconds: above the longest hard limit.
    # (Only for Redis: the embedded SQLAlchemy transport hands its options to create_engine.)
    app.conf.broker_transport_options = {"visibility_timeout": pipeline_config.visibility_timeout()}
app.autodiscover_tasks(["workers.tasks.system", "workers.tasks.pipeline", "workers.sweeper", "workers.tasks.training",
                        "workers.rollout"],
                       related_name=None, force=True)
