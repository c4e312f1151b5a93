"""The launcher protocol: how a queued training job gets somewhere to run.

A launcher never runs the training itself and never changes the job's state machine except through
``workers.training`` (which owns queued -> running -> succeeded | failed | cancelled). It may record
what it started in ``job.artifacts["launch"]`` (returned by ``launch``) so that ``cancel`` and the
sweeper can find it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class LaunchError(Exception):
    """The job could not be started; the message becomes the job's reason."""


@runtime_checkable
class Launcher(Protocol):
    name: str

    def launch(self, job) -> dict:
        """Start ``job`` (a ``registry.models.TrainingJob``); returns what was started (JSON-able)."""

    def cancel(self, job) -> None:
        """Stop what ``launch`` started, if it can be stopped from outside (the job also polls its
        ``cancel_requested`` flag between folds and targets)."""

    def alive(self, job) -> bool | None:
        """Whether what runs the job still exists (None: this backend cannot tell; the heartbeat decides)."""
