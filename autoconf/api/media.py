"""Media delivery: the proxy (HTTP Range), poster, waveform and thumbnails of a recording,
only to users who may see it. Behind nginx (AUTOCONF_MEDIA_ACCEL_REDIRECT) the app checks
access and answers with X-Accel-Redirect; nginx then sends the bytes.

A player sends many Range requests for one recording. The first goes through the routes
below (sign-in, access check: a few queries); the answer "this credential may read this
recording's files" is then remembered for GRANT_TTL_S seconds, and `MediaFastPath` serves
the next ones without FastAPI's machinery or the database (a tenth of the cost). A "no" is
never remembered; a deleted recording, or one whose consent is withdrawn, is forgotten at
once. Without the consent its study requires, every route here answers 403 (which consent is
missing); the first request of a login session for a recording is the audit log's `play`.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import anyio.to_thread
from fastapi import Path, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import ASGIApp, Receive, Scope, Send

from autoconf.api.deps import RecordingDep, SessionDep, SettingsDep, actor, credential_of, write
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.audit import log as audit_log
from autoconf.auth.accounts import SESSION
from autoconf.bus import GRANTS, Bus
from autoconf.consent import records as consent
from autoconf.errors import Conflict, NotFound, Unavailable
from autoconf.media import passes, reading
from autoconf.media.store import MissingObject, S3Store, store_for
from autoconf.models import Recording
from autoconf.settings import Settings

log = logging.getLogger(__name__)
router = IndexedRouter(prefix="/api/v1", tags=["media"])
T = TypeVar("T")

GRANT_TTL_S = 10.0
ACCEL_STORE_SECONDS = 60  # the store's address nginx is sent to (asked within the request)
MAX_GRANTS = 10_000
_MEDIA_PATH = re.compile(
    r"^/api/v1/recordings/(\d+)/(media|poster|waveform|thumbnails\.vtt|thumbnails/sprite-\d{3}\.jpg)$"
)


_MEDIA_THREADS = ThreadPoolExecutor(8, thread_name_prefix="media")


async def in_media_thread(work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` in one of the threads that open, stat and bring in media files: the
    event loop's own executor, without anyio's per-call bookkeeping (a sixth of the event
    loop's time on 1 MiB ranges, bench/README.md). A cancelled request waits for the step
    already begun, as with anyio's."""
    future = asyncio.get_running_loop().run_in_executor(_MEDIA_THREADS, work, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():  # anyio cancels again at every turn of the loop
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
        raise


class MediaFile(FileResponse):
    """FileResponse (Range, multi-range, If-Range, 416, HEAD) in 1 MiB parts: twice the
    throughput of the 64 KiB default on large seeks (see ARCHITECTURE.md). A single range
    (what players ask) is sent one part per worker-thread trip (the file opened in the
    first) instead of a trip each for open, seek, every read and close; each part mapped
    from the page cache rather than copied (`media.reading`)."""

    chunk_size = 1024 * 1024

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        """Starlette's parsing (past `max_ranges` ranges: the whole file), except that a
        Range it cannot read (inverted, not numbers, another unit) is ignored, as RFC 9110
        allows: the whole file (200), not a 400 in English."""
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A range of one part (what players and the bench mostly ask) is one `send`: no
        task listening for the client's disconnection beside it (a fifth of the Python time
        of such an answer), as Starlette does when the server says sends fail once the
        client is gone (ASGI 2.4). A longer answer keeps the listener: it stops the reading."""
        headers = Headers(scope=scope)
        http_range = headers.get("range") if scope["type"] == "http" else None
        if http_range is not None and "if-range" not in headers and self.stat_result is not None:
            try:
                ranges = self._parse_range_header(http_range, self.stat_result.st_size)
            except RangeNotSatisfiable:
                ranges = []
            if len(ranges) == 1 and ranges[0][1] - ranges[0][0] <= self.chunk_size:
                scope = {**scope, "asgi": {**scope.get("asgi", {}), "spec_version": "2.4"}}
        await super().__call__(scope, receive, send)

    async def _handle_single_range(
        self, send: Send, start: int, end: int, file_size: int, send_header_only: bool
    ) -> None:
        if send_header_only:
            await super()._handle_single_range(send, start, end, file_size, send_header_only)
            return
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["content-range"] = f"bytes {start}-{end - 1}/{file_size}"
        headers["content-length"] = str(end - start)
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        # The file is opened once (in the first part's trip) and read to the end of the
        # answer: a proxy replaced meanwhile (processed again) is not mixed into it.
        size = min(self.chunk_size, end - start)
        reader, part = await in_media_thread(
            _open_and_read, self.path, self.stat_result, start, size
        )
        try:
            while True:
                start += len(part)
                more = len(part) == size and start < end
                await send({"type": "http.response.body", "body": part, "more_body": more})
                if not more:
                    return
                size = min(self.chunk_size, end - start)
                part = await in_media_thread(reader.part, start, start + size)
        finally:
            reader.close()


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _one_range(header: str | None) -> tuple[int | None, int | None] | None:
    """(start, end) of a Range of one span (`bytes=a-b`, `bytes=a-`, `bytes=-n`: start None
    and end n, a suffix); None for none, several, or one that cannot be read (the whole file
    is then sent, as RFC 9110 allows)."""
    match = _RANGE.match(header.replace(" ", "")) if header else None
    if match is None or match[1] == match[2] == "":
        return None
    start, end = (int(match[1]) if match[1] else None), (int(match[2]) if match[2] else None)
    if start is not None and end is not None and end < start:
        return None
    return start, end


class ObjectResponse(Response):
    """A file of the object store sent through the app, access checked first: a Range of one
    span is asked of the store as is (206, or 416 past the end); a HEAD asks its size. The
    bytes pass in parts of 1 MiB, read in the media threads."""

    def __init__(self, store: S3Store, key: str, media_type: str, headers: dict[str, str]):
        super().__init__(media_type=media_type, headers=headers)
        del self.headers["content-length"]
        self.store, self.key = store, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asked = Headers(scope=scope)
        # An If-Range is not compared: the whole file, always right (RFC 9110 allows it).
        span = None if "if-range" in asked else _one_range(asked.get("range"))
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["accept-ranges"] = "bytes"
        try:
            if scope["method"] == "HEAD":
                size = await in_media_thread(self.store.size, self.key)
                if size is None:
                    raise MissingObject(self.key)
                headers["content-length"] = str(size)
                await send({"type": "http.response.start", "status": 200, "headers": headers.raw})
                await send({"type": "http.response.body", "body": b""})
                return
            start, end = (None, None) if span is None else span
            if start is None and end is not None:  # the last `end` bytes
                part = await in_media_thread(self.store.read, self.key, None, None, end)
            else:
                part = await in_media_thread(self.store.read, self.key, start, end)
        except MissingObject:
            await _refuse(send, 404, "Le fichier demandé est introuvable sur le serveur.")
            return
        except Unavailable as error:
            await _refuse(send, 503, str(error))
            return
        except ValueError as error:  # the range starts past the end
            headers = MutableHeaders({"content-range": f"bytes */{error.args[0]}"})
            await _refuse(send, 416, "La plage demandée est hors du fichier.", headers)
            return
        try:
            headers["content-length"] = str(part.length)
            if part.etag:
                headers["etag"] = part.etag
            status = 200
            if span is not None:
                status = 206
                last = part.start + part.length - 1
                headers["content-range"] = f"bytes {part.start}-{last}/{part.size}"
            await send({"type": "http.response.start", "status": status, "headers": headers.raw})
            sent = 0
            while sent < part.length:
                chunk = await in_media_thread(next, part.chunks, b"")
                if not chunk:
                    break
                sent += len(chunk)
                more = sent < part.length
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if sent < part.length:  # the store stopped early: the client sees a short body
                log.warning("object %s: %s of %s bytes sent", self.key, sent, part.length)
        finally:
            await in_media_thread(part.close)


async def _refuse(
    send: Send, status: int, message: str, headers: MutableHeaders | None = None
) -> None:
    """A JSON refusal sent from inside a response (the error handlers are behind it)."""
    body = json.dumps({"detail": message}, ensure_ascii=False).encode()
    headers = headers or MutableHeaders()
    headers["content-type"] = "application/json"
    headers["content-length"] = str(len(body))
    await send({"type": "http.response.start", "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})


def _open_and_read(
    path: str | os.PathLike[str], found: os.stat_result | None, offset: int, size: int
) -> tuple[reading.Reader, memoryview | bytes]:
    reader = reading.files.open(path, found)
    try:
        return reader, reader.part(offset, offset + size)
    except BaseException:
        reader.close()
        raise


@dataclass(frozen=True)
class MediaFiles:
    """What is needed to find a ready recording's files (a snapshot, safe to keep)."""

    code: str
    status: str
    proxy_key: str
    kind: str
    files: dict[str, Any]

    @classmethod
    def of(cls, recording: Recording) -> "MediaFiles":
        info = recording.media_info or {}
        kind = "video" if info.get("video") else "audio"
        return cls(
            recording.code, recording.status, recording.proxy_key, kind, info.get("files", {})
        )

    def locate(self, what: str) -> tuple[str, str]:
        """(key under the media folder, content type) of `media`, `poster`, `waveform`,
        `thumbnails.vtt` or `thumbnails/sprite-NNN.jpg`; Conflict or NotFound in French."""
        if self.status != "ready" or not self.proxy_key:
            state = {
                "queued": "en attente de traitement",
                "processing": "en cours de traitement",
                "failed": "son traitement a échoué",
                "uploaded": "pas encore traité",
            }.get(self.status, self.status)
            raise Conflict(f"Le média de « {self.code} » n'est pas encore prêt : {state}.")
        if what == "media":
            return self.proxy_key, f"{self.kind}/mp4"
        folder = PurePosixPath(self.proxy_key).parent
        if what == "poster" and self.files.get("poster"):
            return str(folder / self.files["poster"]), "image/jpeg"
        if what == "waveform" and self.files.get("waveform"):
            return str(folder / self.files["waveform"]), "application/octet-stream"
        if what == "thumbnails.vtt" and self.files.get("thumbnails"):
            return str(folder / self.files["thumbnails"]), "text/vtt; charset=utf-8"
        if what.startswith("thumbnails/") and self.files.get("thumbnails"):
            return str(folder / PurePosixPath(what).name), "image/jpeg"
        missing = {
            "poster": "Pas d'image : enregistrement audio seul.",
            "waveform": "Pas de forme d'onde : vidéo sans son.",
        }.get(what, "Pas de vignettes : enregistrement audio.")
        raise NotFound(missing)


class MediaGrants:
    """Credential × recording → MediaFiles, for GRANT_TTL_S seconds, in this process.

    Access taken back in any process reaches every process through the bus (`grants`
    messages: a recording, a credential's digest, or all): a removed member is refused on
    another process as soon as the message arrives, not GRANT_TTL_S later. While the bus
    hears nothing from the others (its connection lost), nothing is granted from memory:
    every request is checked."""

    def __init__(self, ttl_s: float = GRANT_TTL_S, bus: Bus | None = None) -> None:
        self.ttl_s = ttl_s
        self._grants: dict[tuple[str, int], tuple[float, MediaFiles]] = {}
        self._lock = threading.Lock()
        # Counts the forgettings: a check that began before one must not leave a grant after.
        self.epoch = 0
        self.bus = bus or Bus()
        self.bus.subscribe(GRANTS, self._heard)
        self.bus.on_reset(self._forget_everything)

    def remember(
        self,
        credential: str | None,
        recording_id: int,
        files: MediaFiles,
        since: int | None = None,
    ) -> None:
        """Grant for GRANT_TTL_S seconds, unless grants were forgotten since epoch `since`
        (when the check began): a withdrawal racing the check must win."""
        if not credential or files.status != "ready" or not self.bus.listening:
            return
        with self._lock:
            if since is not None and since != self.epoch:
                return
            if len(self._grants) >= MAX_GRANTS:
                self._grants.clear()
            self._grants[(credential, recording_id)] = (time.monotonic() + self.ttl_s, files)

    def get(self, credential: str | None, recording_id: int) -> MediaFiles | None:
        if not credential or not self.bus.listening:
            return None
        found = self._grants.get((credential, recording_id))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def forget(self, recording_id: int) -> None:
        """The recording changed (deleted, processed again, stopped, consent withdrawn):
        its grants go, here and in every process, and the files kept mapped (an erased
        file's space is given back)."""
        self.bus.publish(GRANTS, f"recording:{recording_id}")

    def forget_credential(self, credential: str | None) -> None:
        """A login session ended: its cookie must stop working at once, media included (the
        other processes are told its digest, not the cookie)."""
        if credential:
            self.bus.publish(GRANTS, f"credential:{_digest(credential)}")

    def clear(self) -> None:
        """An API token was revoked, a member removed, a study's settings changed: forget
        every grant."""
        self.bus.publish(GRANTS, "all")

    def _heard(self, message: str) -> None:
        kind, _, value = message.partition(":")
        with self._lock:
            self.epoch += 1
            if kind == "recording" and value.isdigit():
                gone = [key for key in self._grants if key[1] == int(value)]
            elif kind == "credential":
                gone = [key for key in self._grants if _digest(key[0]) == value]
            else:
                gone = list(self._grants)
            for key in gone:
                del self._grants[key]
        if kind == "recording":
            reading.files.forget_all()

    def _forget_everything(self) -> None:
        self._heard("all")


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def credential(request: Request) -> str | None:
    """The caller's token or session cookie, as sent, with its kind (the key of its grants:
    `session:<cookie>`, `api:<token>`)."""
    found = credential_of(request)
    return grant_key(*found) if found else None


def grant_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def deliver(
    settings: Settings, key: str, media_type: str, found: os.stat_result | None = None
) -> Response:
    """The answer for a file: X-Accel-Redirect, or the file (`found`: its `stat`, when known
    already; given to the response: one thread trip less per request); from an object
    store, `stored_answer`'s."""
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if settings.storage_url:
        return stored_answer(settings, key, media_type, headers)
    if settings.media_accel_redirect:
        headers["X-Accel-Redirect"] = settings.media_accel_redirect.rstrip("/") + "/" + quote(key)
        return Response(media_type=media_type, headers=headers)
    path = settings.media_dir / key
    if found is None:
        try:
            found = path.stat()
        except FileNotFoundError:
            found = None
    if found is None or not stat.S_ISREG(found.st_mode):
        raise NotFound("Le fichier demandé est introuvable sur le serveur.")
    return MediaFile(path, media_type=media_type, headers=headers, stat_result=found)


def stored_answer(
    settings: Settings, key: str, media_type: str, headers: dict[str, str]
) -> Response:
    """The answer for a file of the object store: behind nginx, X-Accel-Redirect to an
    address of the store signed for ACCEL_STORE_SECONDS (nginx fetches it, the Range passed
    on, and the browser never sees it); with AUTOCONF_S3_PRESIGNED_SECONDS, a redirect to a
    presigned address; else the bytes through the app. Addresses are computed here, with no
    request to the store."""
    store = store_for(settings)
    assert isinstance(store, S3Store)
    if settings.media_accel_redirect:
        signed = urlsplit(store.url(key, ACCEL_STORE_SECONDS))
        target = f"{signed.path}?{signed.query}"
        headers["X-Accel-Redirect"] = settings.media_accel_redirect.rstrip("/") + target
        return Response(media_type=media_type, headers=headers)
    if seconds := settings.s3_presigned_seconds:
        address = store.url(key, seconds)
        return RedirectResponse(address, 307, headers={"Cache-Control": "no-store"})
    return ObjectResponse(store, key, media_type, headers)


def with_pass(
    response: Response, request: Request, settings: Settings, what: str, key: str
) -> Response:
    """Behind nginx, a proxy's answer to a login session carries a media pass (a cookie for
    this recording's media URL, `media.passes`): nginx serves the next Range requests alone
    until it expires, then asks again. API tokens get none (nginx keeps their check's "yes"
    1-2 s instead)."""
    found = credential_of(request)
    secret = settings.media_pass_secret
    accel = settings.media_accel_redirect
    if what != "media" or not accel or not secret or found is None or found[0] != SESSION:
        return response
    if settings.storage_url:  # nginx reaches an object store's files only through the app
        return response
    path = request.url.path
    seconds = settings.media_pass_seconds
    value = passes.issue(key, path, found[1], secret, time.time(), seconds)
    if value is not None:
        # Written out: Starlette would put the value in quotes (for its `/`), which nginx
        # would not read; RFC 6265 allows `/` in a cookie's value, and browsers keep it.
        secure = settings.cookie_secure or request.url.scheme == "https"
        response.headers.append(
            "set-cookie",
            f"{passes.COOKIE}={value}; Max-Age={seconds}; Path={path}; HttpOnly; "
            "SameSite=strict" + ("; Secure" if secure else ""),
        )
    return response


async def _answer(
    request: Request, recording: Recording, session: Session, settings: Settings, what: str
) -> Response:
    """The file, if the recording's consents allow it; the grant is remembered once the
    request is known to be allowed and, for a first request, logged."""
    grants: MediaGrants = request.app.state.media_grants
    since = grants.epoch
    who = actor(request, request.state.auth_user)
    response, files, played = await anyio.to_thread.run_sync(
        _prepare, session, recording, settings, what, who.credential
    )
    if not played:
        await write(request, session, _log_play, session, recording, who)
    grants.remember(credential(request), recording.id or 0, files, since)
    return with_pass(response, request, settings, what, files.locate(what)[0])


def _prepare(
    session: Session, recording: Recording, settings: Settings, what: str, credential: str
) -> tuple[Response, MediaFiles, bool]:
    """(the response, what the grant keeps, whether this login session played it before)."""
    consent.require(session, recording)
    files = MediaFiles.of(recording)
    response = deliver(settings, *files.locate(what))
    return response, files, audit_log.played_before(session, recording.id or 0, credential)


def _log_play(session: Session, recording: Recording, who: audit_log.Actor) -> None:
    # Checked again under the write lock: a player's first requests come all at once.
    if not audit_log.played_before(session, recording.id or 0, who.credential):
        audit_log.record(
            session,
            who,
            audit_log.PLAY,
            study_id=recording.study_id,
            recording_id=recording.id,
            object_type="recording",
            object_id=recording.id,
        )


class MediaFastPath:
    """Serves media requests whose credential was granted the recording moments ago;
    everything else (and every first request) goes to the application."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = _MEDIA_PATH.match(scope["path"])
        if match is not None:
            request = Request(scope)
            state = request.app.state
            files = state.media_grants.get(credential(request), int(match[1]))
            if files is not None:
                settings: Settings = state.settings
                try:
                    key, media_type = files.locate(match[2])
                    if settings.media_accel_redirect:
                        response = deliver(settings, key, media_type)
                        response = with_pass(response, request, settings, match[2], key)
                    elif settings.storage_url:  # no file here: the store is asked
                        response = deliver(settings, key, media_type)
                    elif known := reading.files.recent(settings.media_dir / key):
                        response = deliver(settings, key, media_type, known)
                    else:  # a stat: not on the event loop (storage may be slow)
                        response = await in_media_thread(deliver, settings, key, media_type)
                except (Conflict, NotFound):  # let the application answer, in full
                    response = None
                if response is not None:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _file(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answers of a media route: the file (whole, or the part a Range asks for),
    or 416 for a Range outside it."""
    content = {
        media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in media_types
    }
    return {
        200: {"description": "The file.", "content": content},
        206: {"description": "The part of the file a `Range` asked for.", "content": content},
        **documented(416),
    }


@router.get(
    "/recordings/{recording_id}/media",
    response_class=Response,
    responses=_file("video/mp4", "audio/mp4"),
)
@router.head("/recordings/{recording_id}/media", include_in_schema=False)
async def recording_media(
    request: Request, recording: RecordingDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """The browser-ready proxy (MP4, or M4A for sound only), with HTTP Range; 403 while the
    consent its study requires is missing."""
    return await _answer(request, recording, session, settings, "media")


@router.get(
    "/recordings/{recording_id}/poster", response_class=Response, responses=_file("image/jpeg")
)
@router.head("/recordings/{recording_id}/poster", include_in_schema=False)
async def recording_poster(
    request: Request, recording: RecordingDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """A frame of the video (JPEG); 404 for sound-only recordings."""
    return await _answer(request, recording, session, settings, "poster")


@router.get(
    "/recordings/{recording_id}/waveform",
    response_class=Response,
    responses=_file("application/octet-stream"),
)
@router.head("/recordings/{recording_id}/waveform", include_in_schema=False)
async def recording_waveform(
    request: Request, recording: RecordingDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Min/max peaks, 10 per second, in the audiowaveform binary format (v2, 8-bit)."""
    return await _answer(request, recording, session, settings, "waveform")


@router.get(
    "/recordings/{recording_id}/thumbnails.vtt",
    response_class=Response,
    responses=_file("text/vtt"),
)
@router.head("/recordings/{recording_id}/thumbnails.vtt", include_in_schema=False)
async def recording_thumbnails(
    request: Request, recording: RecordingDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """WebVTT thumbnails track: each cue names a sprite and a `#xywh=` region."""
    return await _answer(request, recording, session, settings, "thumbnails.vtt")


@router.get(
    "/recordings/{recording_id}/thumbnails/{sprite}",
    response_class=Response,
    responses=_file("image/jpeg"),
)
@router.head("/recordings/{recording_id}/thumbnails/{sprite}", include_in_schema=False)
async def recording_sprite(
    request: Request,
    recording: RecordingDep,
    session: SessionDep,
    settings: SettingsDep,
    sprite: Annotated[str, Path(pattern=r"^sprite-\d{3}\.jpg$")],
) -> Response:
    """A sheet of thumbnails named by the WebVTT track (`thumbnails/sprite-NNN.jpg`)."""
    return await _answer(request, recording, session, settings, f"thumbnails/{sprite}")
