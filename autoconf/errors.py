"""Domain errors: plain exceptions whose message is written for the user (in French).

`autoconf.api.errors` maps each class to an HTTP status; nothing else needs to know HTTP.
"""


class DomainError(Exception):
    """Base of every error a user may see; `str(error)` is the message shown."""


class NotAuthenticated(DomainError):
    """No valid login session or API token."""


class Forbidden(DomainError):
    """The user is known but may not do this."""


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to this user)."""


class Conflict(DomainError):
    """The request clashes with the current state (duplicate code, stale version…).

    `current` carries the stored state when a stale edit is refused, so the user can compare.
    """

    def __init__(self, message: str, current: object | None = None) -> None:
        super().__init__(message)
        self.current = current


class Busy(DomainError):
    """The same thing is being done right now by another request (retry in a moment)."""


class TooManyAttempts(DomainError):
    """Too many failed sign-ins lately: the next attempt is possible in `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Invalid(DomainError):
    """The request is well-formed but its content does not make sense."""


class TooLarge(DomainError):
    """An upload is over the configured size limit."""


class UnsupportedMedia(DomainError):
    """An upload is of a kind the application does not take."""


class ToolMissing(DomainError):
    """An external program (ffmpeg, ffprobe) is not installed."""


class Unavailable(DomainError):
    """Something the application needs is not there or does not answer: the object store
    it keeps the media in, the transcription model."""
