"""What the API answers when it refuses, as its OpenAPI document describes it: a JSON
`{"detail": …}` per status (`api/errors.py` makes the answers)."""

from typing import Any

from pydantic import BaseModel, Field


class ErrorPublic(BaseModel):
    """A refusal: its message, written for the user (French first); never a traceback."""

    detail: str
    current: dict[str, Any] | None = Field(
        default=None, description="A stale edit (409): the stored state, to compare with."
    )


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description="Where: `body`, `query`, `path`, `header` or `cookie`, then the field."
    )
    msg: str = Field(description="What is wrong, in French; the value sent is never repeated.")
    type: str


class ValidationErrorPublic(BaseModel):
    """A request the API cannot take as it is: the fields refused, or one message."""

    detail: list[FieldError] | str


_ERROR_DESCRIPTIONS = {
    400: "The body cannot be read (malformed JSON or form, text that is not UTF-8).",
    401: "No valid credentials: send `Authorization: Bearer <token>` (or sign in).",
    403: "Signed in but not allowed: not the role it takes, a consent missing, or a "
    "request that may come from another site.",
    404: "Nothing of that id that you may see.",
    409: "It clashes with the current state: a code already taken, a stale version "
    "(`current` carries the stored one), something not ready yet.",
    410: "The upload expired.",
    412: "A tus request without `Tus-Resumable: 1.0.0`.",
    413: "The body is over the limit: 1 MiB, or AUTOCONF_MAX_UPLOAD_BYTES for a recording.",
    415: "Not a kind of file or body this route takes.",
    416: "The Range asked for is outside the file.",
    422: "Well-formed, but a value is missing, of the wrong type or out of range (each "
    "field named, with a French message), or the request does not make sense.",
    423: "The same upload is receiving bytes on another connection: retry in a moment.",
    429: "Too many failed sign-ins for this account or from this address: retry after "
    "`Retry-After` seconds.",
    503: "A tool or service the server needs (ffmpeg, the media store, the transcription "
    "model) is missing or does not answer.",
}
_ERROR_HEADERS = {
    429: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}
# What any route of the API may answer besides its success.
API_ERRORS = (400, 401, 403, 404, 409, 413, 422)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of these error statuses (a JSON `{"detail": …}` each)."""
    return {
        status: {
            "model": ValidationErrorPublic if status == 422 else ErrorPublic,
            "description": _ERROR_DESCRIPTIONS[status],
            **({"headers": _ERROR_HEADERS[status]} if status in _ERROR_HEADERS else {}),
        }
        for status in statuses
    }
