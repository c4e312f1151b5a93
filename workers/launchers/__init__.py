"""Where training jobs run: a launcher backend per ``TrainingJob.launcher``.

``get_launcher(name)`` returns the backend; ``workers.training.dispatch`` calls its ``launch(job)``. The
``local`` backend sends ``workers.training.run`` on the ``training`` queue (a Celery worker of this
deployment runs it). The ``kubernetes`` backend creates a
``batch/v1`` Job per pretraining job (docs/training.md). A new backend is a module here with a class satisfying
:class:`~workers.launchers.base.Launcher`, added to ``BACKENDS``.
"""

from __future__ import annotations

from .base import Launcher, LaunchError
from .kubernetes import KubernetesLauncher
from .local import LocalLauncher

BACKENDS: dict[str, type] = {"local": LocalLauncher, "kubernetes": KubernetesLauncher}


def get_launcher(name: str) -> Launcher:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise LaunchError(f"unknown launcher {name!r}; known: {', '.join(sorted(BACKENDS))}") from None


__all__ = ["BACKENDS", "Launcher", "LaunchError", "get_launcher"]
