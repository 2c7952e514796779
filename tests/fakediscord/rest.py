"""The HTTP side: one aiohttp app that records, authenticates, faults and routes every request.

Route modules only declare ``(method, path regex, handler)`` tables; this module owns what is
common to all of them (body parsing, the ``Bot`` token, injected faults, the request log), so
a handler never has to remember any of it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import BodyPartReader, web

from .faults import Faults
from .hub import API_PREFIX, Hub
from .records import RequestRecord, UploadedFile
from .responses import HTTPError, fail, json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: A route handler gets the request and the path's named groups.
RouteHandler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]
Route = tuple[str, str, RouteHandler]

BODY: web.RequestKey[Any] = web.RequestKey("fake_body", object)
FILES: web.RequestKey[list[UploadedFile]] = web.RequestKey("fake_files", list)
MAX_BODY = 30 * 1024 * 1024


class RestApp:
    """Builds the aiohttp application: gateway endpoints plus ``/api/v10`` dispatch."""

    def __init__(self, hub: Hub, faults: Faults, routes: Iterable[Route]) -> None:
        self._hub = hub
        self._faults = faults
        self._routes = [
            (method, re.compile(pattern), handler) for method, pattern, handler in routes
        ]

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        app.router.add_get("/gateway", self._hub.gateway.handle)
        app.router.add_get("/gateway-resume", self._hub.gateway.handle)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._dispatch)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        record = RequestRecord(request.method, path, dict(request.query), None)
        self._hub.requests.append(record)
        try:
            record.body = await read_body(request)
            await self._hold_if_stalled(request.method, path)
            response = await self._guarded(request, handler, path)
        except HTTPError as exc:
            response = json_response(exc.body, exc.status, exc.headers)
        record.status = response.status
        self._hub.changed()
        return response

    async def _hold_if_stalled(self, method: str, path: str) -> None:
        hub = self._hub
        if any(m == method and fnmatch.fnmatchcase(path, p) for m, p in hub.stalls):
            hub.stalled_count += 1
            hub.changed()
            await hub.stalls_released.wait()

    async def _guarded(
        self, request: web.Request, handler: Handler, path: str
    ) -> web.StreamResponse:
        needs_auth = not path.startswith(("/interactions/", "/webhooks/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {self._hub.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        if needs_auth:  # interaction callbacks and webhooks are outside the global limit
            self._faults.take_global()
        return await self._faults.serve(request.method, path, lambda: handler(request))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix(API_PREFIX)
        for method, pattern, handler in self._routes:
            if method != request.method:
                continue
            match = pattern.fullmatch(path)
            if match:
                return await handler(request, match.groupdict())
        return json_response({"message": "404: Not Found", "code": 0}, 404)


async def read_body(request: web.Request) -> Any:
    """JSON body, or multipart ``payload_json`` + ``files[n]`` (files kept in request)."""
    files: list[UploadedFile] = []
    request[FILES] = files
    if request.content_type == "multipart/form-data":
        payload: Any = {}
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                data = await part.read()
                files.append(
                    UploadedFile(
                        part.filename or "",
                        part.headers.get("Content-Type", "application/octet-stream"),
                        bytes(data),
                    )
                )
        request[BODY] = payload
        return payload
    raw = await request.read()
    if not raw:
        request[BODY] = None
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        raise fail(400, 50109, "The request body contains invalid JSON.") from None
    request[BODY] = body
    return body
