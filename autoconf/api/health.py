"""For the machines around the app: `/healthz` (the process answers), `/readyz` (it can
work: database, media storage, ffmpeg) and `/metrics` (Prometheus, with its token)."""

from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse, Response

from autoconf.api.deps import SettingsDep
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.observability import metrics, readiness
from autoconf.studies import access

router = IndexedRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Open to all: the process is up and answers (nothing else is asked: a database
    outage must not get every app process restarted)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A check failed: which, and why."}})
def readyz(request: Request, settings: SettingsDep) -> JSONResponse:
    """Open to all: whether this process can work (database, media storage, ffmpeg), each
    check with its time; 503 while one fails, so that a load balancer sends no one here."""
    tools: readiness.ToolCheck = request.app.state.tool_check
    found = readiness.checks(request.app.state.engine, settings, tools)
    ready = all(check.ok for check in found)
    body: dict[str, Any] = {
        "status": "ready" if ready else "not ready",
        "checks": {check.name: check.public() for check in found},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", responses=documented(401, 404), response_class=Response)
def prometheus(
    request: Request,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Prometheus text format, for the monitoring system's token (AUTOCONF_METRICS_TOKEN)."""
    access.require_metrics_reader(settings.metrics_token, authorization)
    return Response(
        metrics.exposition(request.app.state.engine),
        media_type=metrics.CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )
