"""Prometheus metrics (prometheus-client).

Counted in the process that does the work: HTTP requests and their latency by route
template (never the path itself: ids would make a series per recording) and the media bytes
the app sends. Under `autoconf serve --workers N` the processes share them through
prometheus-client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set by the command
before the workers start), so a scrape that reaches any process sees the sum.

Read from the database when scraped, so that every process answers the same: media jobs by
status, open live sessions, and the browsers following them (on every process).
"""

import os
import re
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from autoconf.live import presence
from autoconf.models import LivePresence, LiveSession, MediaJob, utcnow

disable_created_metrics()  # type: ignore[no-untyped-call] # no `_created` series beside each counter (noise here)
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")

REQUESTS = Counter(
    "autoconf_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "autoconf_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
MEDIA_BYTES = Counter(
    "autoconf_media_bytes_streamed_total",
    "Bytes of media files (proxies, posters, waveforms, thumbnails) sent by the app "
    "(behind nginx with X-Accel-Redirect, nginx sends them: see its own logs).",
    ["what"],
)

_MEDIA = re.compile(r"^/api/v1/recordings/\d+/(media|poster|waveform|thumbnails)")


def route_of(scope: dict[str, Any], media: str | None) -> str:
    """The route template a request matched (`/api/v1/recordings/{recording_id}`), the media
    path it took past the router (the fast path; `media` is its `media_kind`), `/static`,
    or `unmatched`."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    if media is not None:
        return "/api/v1/recordings/{recording_id}/" + media
    if scope.get("path", "").startswith("/static/"):
        return "/static"
    return "unmatched"


def media_kind(path: str) -> str | None:
    found = _MEDIA.match(path)
    return found[1] if found is not None else None


class RequestMetrics:
    """ASGI middleware, outermost: counts every HTTP answer, the fast path's and refusals
    included, with its duration; media bytes as they leave."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before any answer
        what = media_kind(scope.get("path", ""))
        sent = 0

        async def counting(message: dict[str, Any]) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif (
                what is not None
                and status in (200, 206)
                and message["type"] == "http.response.body"
            ):
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            route, method = route_of(scope, what), scope.get("method", "")
            REQUESTS.labels(route, method, str(status)).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)
            if what is not None and sent:
                MEDIA_BYTES.labels(what).inc(sent)


class DatabaseCollector(Collector):
    """What the database says at scrape time (the same from every process)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "autoconf_media_jobs",
            "Media jobs (processing of recordings) by status.",
            None,
            ["status"],
        )
        sessions = GaugeMetricFamily(
            "autoconf_live_sessions_open", "Live auto-confrontation sessions not ended."
        )
        followers = GaugeMetricFamily(
            "autoconf_live_subscribers",
            "Browsers following a live session (on every app process), by role.",
            None,
            ["role"],
        )
        fresh = utcnow() - presence.STALE
        with Session(self.engine) as session:
            counts = dict(
                session.exec(
                    select(MediaJob.status, func.count()).group_by(col(MediaJob.status))
                ).all()
            )
            open_sessions = session.exec(
                select(func.count())
                .select_from(LiveSession)
                .where(col(LiveSession.ended_at).is_(None))
            ).one()
            present = dict(
                session.exec(
                    select(LivePresence.role, func.count())
                    .where(col(LivePresence.seen_at) > fresh)
                    .group_by(col(LivePresence.role))
                ).all()
            )
        for status in sorted(set(JOB_STATUSES) | set(counts)):
            jobs.add_metric([status], counts.get(status, 0))
        sessions.add_metric([], open_sessions)
        for role in sorted({"counsellor", "researcher"} | set(present)):
            followers.add_metric([role], present.get(role, 0))
        yield jobs
        yield sessions
        yield followers


def exposition(engine: Engine) -> bytes:
    """The text a Prometheus scrape reads: this process's (or, under several workers, every
    process's) counters, then the database's gauges."""
    if os.environ.get(MULTIPROCESS_ENV):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
        own = generate_latest(counted)
    else:
        from prometheus_client import REGISTRY

        own = generate_latest(REGISTRY)
    stored = CollectorRegistry(auto_describe=False)
    stored.register(DatabaseCollector(engine))
    return own + generate_latest(stored)
