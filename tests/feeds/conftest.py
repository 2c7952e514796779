"""Loopback servers, a stub DNS resolver and fetcher factories for the fetching tests."""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from bot.feeds.http import FeedFetcher, FetchLimits

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:a@test\r\nDTSTART:20250304T120000Z\r\nSUMMARY:Talk\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Served:
    """A running loopback server that records every request it receives."""

    server: TestServer
    requests: list[web.Request] = field(default_factory=list)

    @property
    def port(self) -> int:
        port = self.server.port
        assert port is not None
        return port

    @property
    def hits(self) -> int:
        return len(self.requests)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


ServeFactory = Callable[[dict[str, Handler]], Awaitable[Served]]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFactory]:
    """Start aiohttp servers on 127.0.0.1:0; routes map a path to a handler."""
    started: list[TestServer] = []

    async def start(routes: dict[str, Handler]) -> Served:
        served: Served

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            served.requests.append(request)
            return await handler(request)

        app = web.Application(middlewares=[record])
        for path, handler in routes.items():
            app.router.add_route("*", path, handler)
        server = TestServer(app, host="127.0.0.1", port=0, shutdown_timeout=0.5)
        served = Served(server)
        await server.start_server()
        started.append(server)
        return served

    yield start
    for server in started:
        await server.close()


@dataclass
class StubResolver(AbstractResolver):
    """DNS without DNS: each host name answers from a script (the last answer repeats)."""

    script: dict[str, list[list[tuple[str, int | None]]]]
    calls: list[str] = field(default_factory=list)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        answers = self.script.get(host)
        if not answers:
            raise OSError(f"stub resolver: unknown host {host}")
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port if answer_port is None else answer_port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip, answer_port in current
        ]

    async def close(self) -> None:
        return None


FetcherFactory = Callable[..., FeedFetcher]


@pytest.fixture
async def make_fetcher() -> AsyncIterator[FetcherFactory]:
    """Fetchers whose guard exempts exactly the given servers (the positive-test escape hatch)."""
    made: list[FeedFetcher] = []

    def make(
        *allowed: Served,
        limits: FetchLimits | None = None,
        resolver: AbstractResolver | None = None,
        extra_ports: Iterable[int] = (),
        **kwargs: object,
    ) -> FeedFetcher:
        ports = {80, 443, *(s.port for s in allowed), *extra_ports}
        fetcher = FeedFetcher(
            limits=limits or FetchLimits(total_timeout=5, connect_timeout=2, read_timeout=2),
            resolver=resolver or StubResolver({}),
            allow_addresses={("127.0.0.1", s.port) for s in allowed},
            allowed_ports=ports,
            **kwargs,  # type: ignore[arg-type]
        )
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


@dataclass
class SilentServer:
    """Accepts connections and reads, but never answers: a hung feed server."""

    port: int
    connections: int = 0


@pytest.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    writers: list[asyncio.StreamWriter] = []
    state = SilentServer(port=0)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        writers.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    yield state
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture(scope="session")
def gzip_bomb() -> bytes:
    """gzip of 64 MiB of zeros (~64 KiB on the wire), built once per session."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1024 * 1024)
    parts = [compressor.compress(block) for _ in range(64)]
    parts.append(compressor.flush())
    return b"".join(parts)


def text_handler(
    body: bytes = ICS,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "text/calendar",
) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=body, status=status, headers=headers or {}, content_type=content_type
        )

    return handler


def redirect_handler(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler


def header_log(served: Served, name: str) -> Sequence[str | None]:
    return [r.headers.get(name) for r in served.requests]
