"""The page handlers: each opens one session, asks `queries`, and renders a template."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from archive_web import listings, queries, searching
from archive_web.render import Renderer


class Pages:
    """Handlers bound to one database and one configuration.

    They are plain `def`s, so Starlette runs them in its threadpool and the blocking
    database work never holds up the event loop.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        renderer: Renderer,
        *,
        prefix: str,
        robots_index: bool,
        clock: Callable[[], datetime],
    ) -> None:
        self.factory = factory
        self.renderer = renderer
        self.prefix = prefix
        self.robots_index = robots_index
        self.clock = clock

    def topics(self, request: Request) -> Response:
        with self.factory() as session:
            topics = queries.topic_summaries(session, self.clock())
            latest = queries.latest_threads(session)
        return self.renderer.page("topics.html", topics=topics, latest=latest)

    def topic(self, request: Request) -> Response:
        page = _page_number(request.query_params.get("page", "1"))
        with self.factory() as session:
            view = queries.topic_page(session, request.path_params["topic"], page)
        if view is None:
            raise HTTPException(404)
        return self.renderer.page("topic.html", view=view)

    def thread(self, request: Request) -> Response:
        with self.factory() as session:
            view = queries.thread_view(
                session, request.path_params["topic"], request.path_params["thread_id"]
            )
        if view is None:
            raise HTTPException(404)
        return self.renderer.page("thread.html", view=view)

    def message(self, request: Request) -> Response:
        # The server has already percent-decoded the path once (ASGI `path`); decoding it
        # again would corrupt Message-IDs that contain a literal "%".
        message_id = request.path_params["message_id"].strip().strip("<>")
        if not message_id:
            raise HTTPException(404)
        with self.factory() as session:
            where = queries.locate_message(session, message_id)
        if where is None:
            raise HTTPException(404)
        slug = quote(where.topic_slug, safe="")
        return RedirectResponse(
            f"{self.prefix}/{slug}/t/{where.thread_id}#p{where.post_id}", status_code=302
        )

    def tag(self, request: Request) -> Response:
        page = _page_number(request.query_params.get("page", "1"))
        with self.factory() as session:
            view = listings.tag_page(session, request.path_params["tag"], page)
        if view is None:
            raise HTTPException(404)
        return self.renderer.page("tag.html", view=view)

    def organization(self, request: Request) -> Response:
        with self.factory() as session:
            view = listings.org_page(session, request.path_params["org"])
        if view is None:
            raise HTTPException(404)
        return self.renderer.page("org.html", view=view)

    def search(self, request: Request) -> Response:
        params = request.query_params
        query, topic, tag = (params.get(name, "").strip() for name in ("q", "topic", "tag"))
        page = _page_number(params.get("page", "1"))
        if page > searching.MAX_PAGE:
            raise HTTPException(404)
        with self.factory() as session:
            form = searching.search_form(session, query, topic, tag)
            view = searching.search_page(session, form, page)
        if view is None:
            raise HTTPException(404)
        kept = {"q": form.query, "topic": form.topic, "tag": form.tag}
        page_base = f"{self.prefix}/search?{urlencode({k: v for k, v in kept.items() if v})}&"
        # Result pages are never for search engines, whatever the archive's setting.
        return self.renderer.page("search.html", view=view, page_base=page_base, noindex=True)

    def accessibility(self, request: Request) -> Response:
        return self.renderer.page("accessibility.html")

    def robots(self, request: Request) -> Response:
        if not self.robots_index:
            return PlainTextResponse("User-agent: *\nDisallow: /\n")
        # Indexable, but not the endless search results or the personal token pages.
        hidden = ("/search", "/u/", "/confirm/", "/healthz", "/metrics")
        rules = "".join(f"Disallow: {self.prefix}{path}\n" for path in hidden)
        return PlainTextResponse(f"User-agent: *\n{rules}")


def _page_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise HTTPException(404)
    return int(text)
