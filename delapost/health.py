"""What an operator's monitoring reads: /healthz and Prometheus /metrics, beside the archive."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models import DigestRun, MailEvent, Outbox, OutboxStatus, Post

log = logging.getLogger("delapost.health")

NOT_FOR_ROBOTS = {"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "no-store"}


class ForumCollector(Collector):
    """Counts read from the database at each scrape, so every process reports the same truth."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        mails = CounterMetricFamily(
            "delapost_mails",
            "Mails the gateway decided on, by verdict and SMTP status",
            labels=["verdict", "status"],
        )
        outbox = GaugeMetricFamily(
            "delapost_outbox_messages", "Outgoing mails by state", labels=["state"]
        )
        with self.factory() as session:
            verdicts = session.execute(
                select(MailEvent.verdict, MailEvent.detail, func.count())
                .where(MailEvent.step == "verdict")
                .group_by(MailEvent.verdict, MailEvent.detail)
            ).all()
            totals: dict[tuple[str, str], int] = {}
            for verdict, detail, count in verdicts:
                # detail starts "550 5.7.1 …": the code and enhanced status are the stable part.
                status = " ".join(detail.split()[:2])
                totals[(verdict, status)] = totals.get((verdict, status), 0) + count
            for (verdict, status), count in sorted(totals.items()):
                mails.add_metric([verdict, status], count)
            by_state = dict(
                session.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all()
            )
            for state in OutboxStatus:
                outbox.add_metric([state.value], by_state.get(state, 0))
            posts = session.scalar(select(func.count(Post.id))) or 0
            runs = session.scalar(select(func.count(DigestRun.id))) or 0
        yield mails
        yield CounterMetricFamily("delapost_posts", "Posts published", value=posts)
        yield outbox
        yield CounterMetricFamily("delapost_digest_runs", "Digest runs recorded", value=runs)


class RequestTimer:
    """Times every HTTP request into a histogram labelled by route, not by raw path."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def remember_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.histogram.labels(template, str(status[0])).observe(time.perf_counter() - started)


def with_health(
    archive: ASGIApp,
    factory: sessionmaker[Session],
    *,
    scheduler_running: Callable[[], bool],
    clock: Callable[[], datetime],
) -> ASGIApp:
    """The archive with /healthz and /metrics in front of it, and every request timed."""
    registry = CollectorRegistry()
    registry.register(ForumCollector(factory))
    latency = Histogram(
        "delapost_http_request_duration_seconds",
        "Time to answer a web request",
        ["route", "status"],
        registry=registry,
    )

    def check() -> tuple[bool, dict[str, object]]:
        report: dict[str, object] = {"scheduler": "running" if scheduler_running() else "stopped"}
        try:
            with factory() as session:
                oldest = session.scalar(
                    select(func.min(Outbox.created_at)).where(Outbox.status == OutboxStatus.QUEUED)
                )
            report["database"] = "ok"
        except SQLAlchemyError as exc:
            log.error("health check: database unreachable: %s", exc.__class__.__name__)
            report["database"] = "unreachable"
            return False, report
        age = (clock() - oldest).total_seconds() if oldest is not None else 0.0
        report["oldest_unsent_seconds"] = round(max(age, 0.0))
        return report["scheduler"] == "running", report

    async def healthz(request: Request) -> Response:
        healthy, report = await run_in_threadpool(check)
        report["status"] = "ok" if healthy else "failing"
        return JSONResponse(report, status_code=200 if healthy else 503, headers=NOT_FOR_ROBOTS)

    async def metrics(request: Request) -> Response:
        try:
            body = await run_in_threadpool(generate_latest, registry)
        except SQLAlchemyError:
            return Response("database unreachable\n", status_code=503, headers=NOT_FOR_ROBOTS)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NOT_FOR_ROBOTS)

    outer = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Mount("", app=archive),
        ]
    )
    return RequestTimer(outer, latency)
