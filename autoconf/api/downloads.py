"""Files the API hands over: the attachment header, and large exports written to a temporary
file that the answer streams and then removes (removed at once if anything fails first)."""

import os
import tempfile
from collections.abc import Awaitable, Callable
from typing import BinaryIO, TypeVar
from urllib.parse import quote

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

T = TypeVar("T")


def attachment(name: str) -> dict[str, str]:
    """The header that makes the browser save the answer as `name` (any characters)."""
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}


def written_file(suffix: str, write: Callable[[BinaryIO], T]) -> tuple[str, T]:
    """A temporary file filled by `write` (in the calling thread); its path and what `write`
    returned. The file is removed when `write` fails."""
    handle, path = tempfile.mkstemp(prefix="autoconf-", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as target:
            result = write(target)
    except BaseException:
        os.unlink(path)
        raise
    return path, result


async def streamed_file(
    path: str, name: str, media_type: str, before: Awaitable[None]
) -> FileResponse:
    """The answer streaming `path` as `name`, removing it once sent, after `before` (the
    audit entry) is done; the file is removed if `before` fails."""
    try:
        await before
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(
        path,
        media_type=media_type,
        headers=attachment(name),
        background=BackgroundTask(os.unlink, path),
    )
