"""Exceptions of the science core. Every message says what is wrong and where (file, frame, joint)."""


class GaitCoreError(Exception):
    """Base class of the science core's errors."""


class SessionFormatError(GaitCoreError):
    """A session file cannot be read: not a session file, corrupt, checksum mismatch, newer version,
    beyond the size limits or holding values no recording can have. ``code`` names the kind (see
    ``gaitcore.sessionfile``)."""

    def __init__(self, message: str, *, code: str = "invalid_session_file") -> None:
        super().__init__(message)
        self.code = code


class ValidationError(GaitCoreError):
    """A recording is unusable (empty, wrong joint count, NaN, absurd values, too short, ...)."""

    def __init__(self, message: str, *, code: str = "invalid", file: str | None = None,
                 frame: int | None = None, joint: str | None = None) -> None:
        where = ", ".join(
            p for p in (
                f"file {file}" if file else "",
                f"frame {frame}" if frame is not None else "",
                f"joint {joint}" if joint else "",
            ) if p
        )
        super().__init__(f"{message} ({where})" if where else message)
        self.code = code
        self.file = file
        self.frame = frame
        self.joint = joint


class SDKNotInstalledError(GaitCoreError):
    """The Azure Kinect Sensor SDK / Body Tracking SDK is not installed on this machine."""
