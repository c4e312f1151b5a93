"""How a training job's runner says it cannot succeed (``workers.training.run_job`` ends it ``failed`` with
the message as its reason)."""


class JobFailed(Exception):
    """The job cannot succeed; the message is its reason."""


class SnapshotChanged(JobFailed):
    """A session of the frozen snapshot is gone or its content changed."""
