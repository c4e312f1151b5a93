"""The Celery application. Configuration comes from Django settings (``CELERY_*``).

Start a worker with ``celery -A workers.celery_app worker``. The embedded development broker is
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

django.setup()

app = Celery("gait")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers.tasks.system", "workers.tasks.pipeline"], related_name=None, force=True)
