"""Health check and reference lists the clients need (structured fields, tools)."""

from sqlalchemy import text

from autoconf.api.deps import CurrentUser, SessionDep, SettingsDep
from autoconf.api.routing import IndexedRouter
from autoconf.media.tools import tool_status
from autoconf.schemes.fields import STRUCTURED_FIELDS

router = IndexedRouter(prefix="/api/v1", tags=["meta"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    """Open to all: answers when the app and its database respond."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ok"}


@router.get("/fields")
def fields(user: CurrentUser) -> dict[str, str]:
    """The structured fields a segment may carry: key -> French label."""
    return STRUCTURED_FIELDS


@router.get("/system")
def system(user: CurrentUser, settings: SettingsDep) -> dict[str, object]:
    """Whether ffmpeg and ffprobe are installed, and their versions."""
    tools = [tool_status(settings.ffmpeg_binary), tool_status(settings.ffprobe_binary)]
    return {t.name: {"path": t.path, "version": t.version} for t in tools}
