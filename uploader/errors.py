"""Errors of the uploader: each carries a short message, what to do next, and a process exit code.

Exit codes (documented in uploader/README.md):

====  ==========================================================================================
0     success
1     unexpected error (run again with ``--verbose`` and report it)
2     usage error (bad option or argument; click's own code)
3     not configured: run ``gait-upload login`` first
4     the server refused the token (revoked, expired or wrong): log in with a new token
5     the server rejected a session (invalid file, unknown subject, ...): it is not retried
6     the server stayed unreachable or kept failing (network, 5xx): run ``push`` again later
7     the Azure Kinect SDKs are missing or no device is connected
8     a recording could not be imported (invalid file)
====  ==========================================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_NOT_CONFIGURED = 3
EXIT_AUTH = 4
EXIT_REJECTED = 5
EXIT_UNAVAILABLE = 6
EXIT_DEVICE = 7
EXIT_IMPORT = 8


class UploaderError(Exception):
    """An error the user can act on: ``message`` (what went wrong) and ``hint`` (what to do next)."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, hint: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class NotConfigured(UploaderError):
    exit_code = EXIT_NOT_CONFIGURED


class AuthError(UploaderError):
    """401/403 from the server: the token is wrong, revoked or expired, or lacks the role."""

    exit_code = EXIT_AUTH


class Rejected(UploaderError):
    """A 4xx answer about one session (never retried): ``code`` is the server's error code."""

    exit_code = EXIT_REJECTED

    def __init__(self, message: str, hint: str = "", *, code: str = "", status: int = 0) -> None:
        super().__init__(message, hint)
        self.code = code
        self.status = status


class Unavailable(UploaderError):
    """Network errors or 5xx answers that persisted through every retry. ``kind``: ``network`` (no answer),
    ``server`` (5xx answers: the server is failing) or ``busy`` (429)."""

    exit_code = EXIT_UNAVAILABLE

    def __init__(self, message: str, hint: str = "", *, kind: str = "network") -> None:
        super().__init__(message, hint)
        self.kind = kind


class DeviceError(UploaderError):
    exit_code = EXIT_DEVICE


class ImportFailed(UploaderError):
    exit_code = EXIT_IMPORT
