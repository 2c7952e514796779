"""A real HTTP server on 127.0.0.1 serving a calendar the test can change between polls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web


class FeedServer:
    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.content_type = "text/calendar"
        self.hits = 0
        self.url = ""
        #: When set, sent as the ETag; a matching If-None-Match gets a 304.
        self.etag: str | None = None
        self.not_modified = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        headers = {"ETag": self.etag} if self.etag else {}
        if self.etag and request.headers.get("If-None-Match") == self.etag and self.status == 200:
            self.not_modified += 1
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=self.body, status=self.status, content_type=self.content_type, headers=headers
        )


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    app = web.Application()
    app.router.add_get("/events/", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/events/?ical=1"
    yield server
    await runner.cleanup()
