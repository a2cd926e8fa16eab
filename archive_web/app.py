"""The archive's Starlette application: configuration, routes, error pages and security headers."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive_web.exports import Exports
from archive_web.pages import Pages
from archive_web.render import Renderer
from archive_web.token_pages import TokenPages
from models import utcnow

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

# Deliberately free of templates and the database: it must render whatever broke.
SERVER_ERROR_PAGE = """<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Något gick fel</title>
</head>
<body>
<main>
<h1>Något gick fel</h1>
<p>Arkivet kunde inte visa sidan just nu. Försök igen om en stund.</p>
<p lang="en">Something went wrong on our side. Please try again in a while.</p>
<p><a href="{home}">Till startsidan</a></p>
</main>
</body>
</html>
"""


@dataclass(frozen=True)
class ArchiveConfig:
    base_url: str
    list_domain: str
    timezone: str = "Europe/Stockholm"
    robots_index: bool = False
    # Signs the unsubscribe links in mail (mailgate.outbound.compose); empty = no link works.
    secret: bytes = b""


class SecurityHeaders:
    """Adds the security headers to every response that passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    factory: sessionmaker[Session],
    config: ArchiveConfig,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The archive for one database; `clock` decides what "the last 7 days" means."""
    # With a base_url like https://example.se/forum, links and redirects keep the /forum part.
    prefix = urlsplit(config.base_url).path.rstrip("/")
    renderer = Renderer(
        timezone=config.timezone,
        prefix=prefix,
        robots_index=config.robots_index,
        list_domain=config.list_domain,
    )
    pages = Pages(factory, renderer, prefix=prefix, robots_index=config.robots_index, clock=clock)
    exports = Exports(
        factory,
        base_url=config.base_url,
        list_domain=config.list_domain,
        robots_index=config.robots_index,
    )
    tokens = TokenPages(factory, renderer, secret=config.secret, prefix=prefix, clock=clock)

    async def not_found(request: Request, exc: Exception) -> Response:
        return renderer.page("not_found.html", status_code=404)

    error_page = SERVER_ERROR_PAGE.format(home=html.escape(f"{prefix}/"))

    async def server_error(request: Request, exc: Exception) -> Response:
        # Starlette still re-raises, so the server logs the traceback; the visitor never sees it.
        # This answer bypasses the middleware stack, hence the headers set by hand.
        return HTMLResponse(error_page, status_code=500, headers=SECURITY_HEADERS)

    routes = [
        Route("/", pages.topics, name="topics"),
        Route("/robots.txt", pages.robots, name="robots"),
        Route("/tillganglighet", pages.accessibility, name="accessibility"),
        Mount("/static", StaticFiles(packages=[("archive_web", "static")]), name="static"),
        Route("/search", pages.search, name="search"),
        Route("/tags/{tag}", pages.tag, name="tag"),
        Route("/orgs/{org}", pages.organization, name="organization"),
        Route("/m/{message_id:path}", pages.message, name="message"),
        Route(
            "/attachments/{attachment_id:int}/{name:path}",
            exports.attachment,
            name="attachment",
        ),
        Route("/u/{token}", tokens.unsubscribe, methods=["GET", "POST"], name="unsubscribe"),
        Route("/confirm/{token}", tokens.confirm, methods=["GET", "POST"], name="confirm"),
        Route("/{topic}/", pages.topic, name="topic"),
        Route("/{topic}/atom.xml", exports.atom, name="atom"),
        Route("/{topic}/t/{thread_id:int}", pages.thread, name="thread"),
        Route("/{topic}/t/{thread_id:int}.mbox", exports.mbox, name="mbox"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 500: server_error},
    )
