"""Whether this process can do its work: the database answers, the media storage takes a
file, ffmpeg and ffprobe run. Each check is timed and says, in words, what is wrong; none
says more than an operator needs (never a URL with its password, never a path's content)."""

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from autoconf.media.store import LocalStore, store_for
from autoconf.media.tools import tool_status
from autoconf.settings import Settings

# ffmpeg's answer is kept this long: a probe every few seconds must not start two
# processes each time (a binary that vanished is seen within this time).
TOOLS_KEPT_SECONDS = 30.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    error: str = ""

    def public(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error:
            answer["error"] = self.error
        return answer


def _timed(name: str, probe: Any) -> Check:
    started = time.perf_counter()
    try:
        error = probe()
    except Exception as exc:  # every failure is an answer, never a crash
        error = f"{type(exc).__name__}"
    return Check(name, not error, (time.perf_counter() - started) * 1000, error or "")


def _database(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"La base de données ne répond pas ({type(exc).__name__})."
    return None


def _storage(settings: Settings) -> str | None:
    """The media store takes a file (a local folder: a file written and removed; an object
    store: an object), and so does the folder of work files beside an object store."""
    store = store_for(settings)
    folders = [store] if isinstance(store, LocalStore) else [store, LocalStore(settings.work_dir)]
    for place in folders:
        try:
            place.check()
        except OSError as exc:
            return f"Le dossier des médias refuse l'écriture ({os.strerror(exc.errno or 0)})."
        except Exception as exc:
            return f"Le stockage objet des médias ne répond pas ({type(exc).__name__})."
    return None


class ToolCheck:
    """ffmpeg and ffprobe found and answering `-version`, kept TOOLS_KEPT_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple[float, tuple[str, ...], str | None] | None = None

    def __call__(self, settings: Settings) -> str | None:
        binaries = (settings.ffmpeg_binary, settings.ffprobe_binary)
        with self._lock:
            kept = self._kept
            if kept is not None and kept[1] == binaries and time.monotonic() < kept[0]:
                return kept[2]
            missing = [b for b in binaries if tool_status(b).version is None]
            error = f"Introuvable ou sans réponse : {', '.join(missing)}." if missing else None
            self._kept = (time.monotonic() + TOOLS_KEPT_SECONDS, binaries, error)
            return error


def checks(engine: Engine, settings: Settings, tools: ToolCheck) -> list[Check]:
    return [
        _timed("database", lambda: _database(engine)),
        _timed("storage", lambda: _storage(settings)),
        _timed("ffmpeg", lambda: tools(settings)),
    ]
