"""create_app(settings) -> FastAPI: the only module that wires the application together."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import anyio
import jinja2
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from autoconf import __version__, i18n
from autoconf.api import (
    account_pages,
    agreement,
    agreement_pages,
    annotations,
    archive,
    audit,
    auth,
    chronogram,
    clips,
    codebook_pages,
    codebooks,
    compare_pages,
    consensus,
    consent_pages,
    consents,
    covalidation,
    erasure,
    erasure_pages,
    errors,
    health,
    interop,
    interop_pages,
    live,
    live_pages,
    live_report,
    live_stops,
    media,
    meta,
    pages,
    preferences,
    recordings,
    rendering,
    round_pages,
    rounds,
    studies,
    study_admin_pages,
    synthesis,
    synthesis_pages,
    transcription,
    uploads,
    users,
)
from autoconf.api.limits import BodySizeLimit
from autoconf.api.media import MediaFastPath, MediaGrants
from autoconf.api.web_security import CrossSiteGuard, SecurityHeaders
from autoconf.auth import passwords, throttle
from autoconf.bus import make_bus
from autoconf.db import MAX_SESSIONS, Writer, make_engine, quick_lane_threads
from autoconf.live import wording
from autoconf.live.hub import LiveHub
from autoconf.media.jobs import JobRunner
from autoconf.media.storage import human_size
from autoconf.media.store import store_for
from autoconf.observability.metrics import RequestMetrics
from autoconf.observability.readiness import ToolCheck
from autoconf.schemes.timecode import format_ms
from autoconf.settings import Settings
from autoconf.transcribe import model as transcription_model
from autoconf.transcribe.jobs import TranscriptionRunner

_PACKAGE = Path(__file__).parent
ROUTERS = tuple(
    module.router
    for module in (
        auth,
        studies,
        codebooks,
        recordings,
        media,
        annotations,
        agreement,
        agreement_pages,
        consensus,
        covalidation,
        rounds,
        round_pages,
        compare_pages,
        interop,
        interop_pages,
        meta,
        health,
        pages,
        codebook_pages,
        preferences,
        synthesis,
        synthesis_pages,
        chronogram,
        clips,
        live,
        live_pages,
        live_report,
        live_stops,
        consents,
        consent_pages,
        erasure,
        erasure_pages,
        audit,
        users,
        study_admin_pages,
        account_pages,
        archive,
        transcription,
    )
)


def _local_time(moment: datetime) -> str:
    """A stored (UTC) time as the server's clock reads it: `26/11/2026 15:32:05`."""
    return moment.astimezone().strftime("%d/%m/%Y %H:%M:%S")


def web_dir() -> Path:
    """`web/` beside the package in a checkout, `autoconf/_web` once installed from a wheel."""
    for candidate in (_PACKAGE.parent / "web", _PACKAGE / "_web"):
        if (candidate / "templates").is_dir():
            return candidate
    raise RuntimeError("The web folder (templates, static files) is missing.")


def make_templates(directory: Path) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=jinja2.select_autoescape(),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext,
        i18n.ngettext,
        newstyle=True,
        pgettext=i18n.pgettext,
        npgettext=i18n.npgettext,
    )
    env.filters["timecode"] = format_ms
    env.filters["file_size"] = human_size
    env.filters["datetime"] = _local_time
    env.globals["version"] = __version__
    env.globals["language"] = i18n.current_language
    env.globals["role_label"] = wording.label  # conseillère / conseiller / conseiller·e
    env.globals["de"] = i18n.de  # "d'Inès Martin", "de Claire"; "of …" in English
    env.globals["csrf_field"] = rendering.csrf_field  # every form that posts starts with it
    env.globals["csrf_token"] = rendering.csrf_token
    return Jinja2Templates(env=env)


def served_app(settings: Settings | None = None) -> FastAPI:
    """The app `autoconf serve` runs (in each process under `--workers N`, from the
    AUTOCONF_* variables)."""
    import gc

    app = create_app(settings)
    # What is loaded by now (modules, routes, models, schemas: ~190,000 objects) lives as
    # long as the process: kept out of the cyclic collector's way, whose full passes then
    # took ~10 ms instead of 70-120 ms, during which no request moved (bench/README.md).
    gc.collect()
    gc.freeze()
    return app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    passwords.configure(settings.password_memory_kib)
    engine = make_engine(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner, transcriber = None, None
        if settings.media_workers > 0:  # else `autoconf worker` processes run the jobs
            runner = JobRunner(engine, settings, settings.media_workers)
            runner.start()
            if transcription_model.installed():  # the optional extra
                transcriber = TranscriptionRunner(engine, settings)
                transcriber.start()
        app.state.job_runner, app.state.transcription_runner = runner, transcriber
        bus.start()
        yield
        await app.state.live_hub.stop()
        await anyio.to_thread.run_sync(bus.stop)
        for running in (runner, transcriber):
            if running is not None:
                await anyio.to_thread.run_sync(running.stop)
        engine.dispose()

    app = FastAPI(
        title="autoconf",
        version=__version__,
        description=(
            "API of autoconf: studies, recordings, codebooks and annotations of "
            "self-confrontation interviews. Authenticate with `Authorization: Bearer <token>` "
            "(create one with `autoconf token create USERNAME` or `POST /api/v1/me/tokens`)."
        ),
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    store_for(settings)  # made once, now: an object store's client is ready for the first file
    app.state.writer = Writer(engine)
    app.state.session_slots = anyio.Semaphore(MAX_SESSIONS)
    app.state.quick_lane = anyio.CapacityLimiter(quick_lane_threads(engine))
    # What the processes sharing the database tell each other (grants taken back, live
    # events written): started with the app, in its lifespan.
    bus = make_bus(engine, app.state.writer, settings.redis_url)
    app.state.bus = bus
    app.state.live_hub = LiveHub(engine, app.state.writer, bus=bus)
    # argon2 takes 64 MiB and ~50 ms per check: a login flood must not take every thread.
    app.state.password_limiter = anyio.CapacityLimiter(2)
    app.state.login_gates = throttle.AddressGates()  # one password check per address at once
    app.state.login_refusals = throttle.RefusalLog()
    app.state.login_locks = throttle.Locks()  # locks read from the database, until they end
    app.state.login_checks = throttle.CheckQueue(slots=2)  # clean addresses first
    web = web_dir()
    app.state.templates = make_templates(web / "templates")
    app.state.tool_check = ToolCheck()
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(uploads.tus_router(settings))
    app.mount("/static", StaticFiles(directory=web / "static"), name="static")
    favicon = web / "static" / "favicon.svg"

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon_ico() -> FileResponse:
        """What browsers ask for on every page that names no icon (the pages name this one)."""
        return FileResponse(favicon, media_type="image/svg+xml")

    app.add_middleware(BodySizeLimit, max_upload_bytes=settings.max_upload_bytes)
    app.state.media_grants = MediaGrants(bus=bus)
    app.add_middleware(MediaFastPath)
    app.add_middleware(CrossSiteGuard)  # before any body is read
    app.add_middleware(SecurityHeaders)  # on every answer, the fast path's and refusals too
    app.add_middleware(RequestMetrics)  # outermost: every answer counted and timed
    return app
