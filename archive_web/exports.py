"""The archive's files: a topic's Atom feed, a thread's mbox, and attachments as downloads."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from archive_web import downloads, feeds, mbox
from archive_web.queries import MAX_ID
from models.db import unit_of_work

# An attachment is never a page: nothing in it may run, load or be framed.
ATTACHMENT_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"


class Exports:
    """Handlers for the files; like the pages, plain `def`s run in Starlette's threadpool."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        base_url: str,
        list_domain: str,
        robots_index: bool,
    ) -> None:
        self.factory = factory
        self.base_url = base_url.rstrip("/")
        self.list_domain = list_domain
        self.robots_index = robots_index

    def _headers(self, **more: str) -> dict[str, str]:
        headers = dict(more)
        if not self.robots_index:
            headers["X-Robots-Tag"] = "noindex"
        return headers

    def atom(self, request: Request) -> Response:
        with self.factory() as session:
            feed = feeds.topic_feed(session, request.path_params["topic"])
        if feed is None:
            raise HTTPException(404)
        body = feeds.render_atom(feed, base_url=self.base_url, list_domain=self.list_domain)
        return Response(body, media_type=feeds.MEDIA_TYPE, headers=self._headers())

    def mbox(self, request: Request) -> Response:
        slug, thread_id = request.path_params["topic"], request.path_params["thread_id"]
        with self.factory() as session:
            thread = mbox.thread_posts(session, slug, thread_id)
        if thread is None:
            raise HTTPException(404)
        body = mbox.render_mbox(
            thread, list_address=f"{slug}@{self.list_domain}", base_url=self.base_url
        )
        name = f"{slug}-{thread_id}.mbox"
        disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
        headers = self._headers(**{"Content-Disposition": disposition})
        return Response(body, media_type=mbox.MEDIA_TYPE, headers=headers)

    def attachment(self, request: Request) -> Response:
        attachment_id: int = request.path_params["attachment_id"]
        if not 0 < attachment_id <= MAX_ID:
            raise HTTPException(404)
        # HEAD asks about the file without fetching it: not a download.
        counted = request.method == "GET"
        with unit_of_work(self.factory) as session:
            found = downloads.fetch(
                session, attachment_id, request.path_params["name"], count=counted
            )
        if found is None:
            raise HTTPException(404)
        headers = self._headers(
            **{
                "Content-Disposition": downloads.content_disposition(found.filename),
                "Content-Security-Policy": ATTACHMENT_POLICY,
            }
        )
        return Response(
            found.data, media_type=downloads.safe_content_type(found.content_type), headers=headers
        )
