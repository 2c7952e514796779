"""Feed downloads against real loopback servers (fault matrix rows 1-7 and 12)."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web

from bot.clock import FixedClock
from bot.errors import (
    EmptyFeed,
    FeedConnectionError,
    FeedFileError,
    FeedFileNotFound,
    FeedHTTPError,
    FeedTimeout,
    FeedTooLarge,
    InvalidFeedURL,
    NotACalendar,
    TooManyRedirects,
)
from bot.feeds.http import (
    USER_AGENT,
    BodyTooLarge,
    Downloaded,
    FeedFetcher,
    FetchLimits,
    NotModified,
    Validators,
)
from tests.feeds.conftest import (
    ICS,
    FetcherFactory,
    ServeFactory,
    SilentServer,
    header_log,
    redirect_handler,
    text_handler,
)

MiB = 1024 * 1024
NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)


async def test_downloads_a_calendar(serve: ServeFactory, make_fetcher: FetcherFactory) -> None:
    server = await serve(
        {"/cal.ics": text_handler(headers={"ETag": '"v1"', "Last-Modified": "Tue, 04 Mar 2025"})}
    )
    result = await make_fetcher(server).fetch(server.url("/cal.ics"))
    assert isinstance(result, Downloaded)
    assert result.body == ICS
    assert result.validators == Validators('"v1"', "Tue, 04 Mar 2025")
    assert result.final_url == server.url("/cal.ics")
    assert result.permanent_url is None
    assert result.content_type.startswith("text/calendar")
    request = server.requests[0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert "gzip" in request.headers["Accept-Encoding"]
    assert "If-None-Match" not in request.headers


async def test_gzip_encoded_feed_is_decoded(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve(
        {"/": text_handler(gzip.compress(ICS), headers={"Content-Encoding": "gzip"})}
    )
    result = await make_fetcher(server).fetch(server.url())
    assert isinstance(result, Downloaded)
    assert result.body == ICS


async def test_server_error_is_reported_with_status(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve({"/": text_handler(b"oops", status=500)})
    with pytest.raises(FeedHTTPError) as info:
        await make_fetcher(server).fetch(server.url())
    assert info.value.status == 500
    assert info.value.retry_after is None
    assert info.value.reason == "http_error"
    assert "HTTP 500" in info.value.message and "retry later" in info.value.message


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (503, "120", 120.0),
        (503, format_datetime(NOW + timedelta(minutes=5), usegmt=True), 300.0),
        (429, "60", 60.0),
        (429, format_datetime(NOW + timedelta(hours=1), usegmt=True), 3600.0),
        (429, "garbage", None),
        (500, "120", None),
    ],
)
async def test_retry_after_is_parsed_against_the_injected_clock(
    serve: ServeFactory,
    make_fetcher: FetcherFactory,
    status: int,
    retry_after: str,
    expected: float | None,
) -> None:
    server = await serve(
        {"/": text_handler(b"", status=status, headers={"Retry-After": retry_after})}
    )
    fetcher = make_fetcher(server, clock=FixedClock(NOW))
    with pytest.raises(FeedHTTPError) as info:
        await fetcher.fetch(server.url())
    assert info.value.status == status
    assert info.value.retry_after == expected


async def test_not_found_has_a_helpful_message(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve({"/other": text_handler()})
    with pytest.raises(FeedHTTPError, match="not found") as info:
        await make_fetcher(server).fetch(server.url("/missing.ics"))
    assert info.value.status == 404


async def test_conditional_get_round_trip(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    etag, modified = '"rev-7"', "Tue, 04 Mar 2025 10:00:00 GMT"

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=ICS,
            content_type="text/calendar",
            headers={"ETag": etag, "Last-Modified": modified},
        )

    server = await serve({"/": handler})
    fetcher = make_fetcher(server)
    first = await fetcher.fetch(server.url())
    assert isinstance(first, Downloaded)
    second = await fetcher.fetch(server.url(), validators=first.validators)
    assert isinstance(second, NotModified)
    assert second.validators == Validators(etag, modified)
    assert header_log(server, "If-None-Match") == [None, etag]
    assert header_log(server, "If-Modified-Since") == [None, modified]


async def test_empty_validators_are_not_sent(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve({"/": text_handler()})
    result = await make_fetcher(server).fetch(server.url(), validators=Validators("", ""))
    assert isinstance(result, Downloaded)
    assert header_log(server, "If-None-Match") == [None]
    assert header_log(server, "If-Modified-Since") == [None]


async def test_unrequested_304_is_an_error(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve({"/": text_handler(b"", status=304)})
    with pytest.raises(FeedHTTPError) as info:
        await make_fetcher(server).fetch(server.url())
    assert info.value.status == 304


async def test_server_that_never_answers_times_out(
    silent_server: SilentServer, make_fetcher: FetcherFactory
) -> None:
    limits = FetchLimits(total_timeout=2, connect_timeout=1, read_timeout=0.3)
    fetcher = make_fetcher(limits=limits, extra_ports=[silent_server.port])
    started = time.monotonic()
    with pytest.raises(FeedTimeout) as info:
        await fetcher.fetch(f"http://127.0.0.1:{silent_server.port}/", trusted=True)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 1.5
    assert silent_server.connections == 1
    assert info.value.reason == "timeout"


async def test_slow_drip_body_is_cut_at_the_total_deadline(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
        await response.prepare(request)
        for _ in range(400):  # 20 s at most; the client gives up long before
            await response.write(b"B")
            await asyncio.sleep(0.05)
        return response

    server = await serve({"/": drip})
    # read_timeout alone would never trip: a byte arrives every 50 ms.
    limits = FetchLimits(total_timeout=0.8, connect_timeout=1, read_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FeedTimeout):
        await make_fetcher(server, limits=limits).fetch(server.url())
    assert 0.7 <= time.monotonic() - started < 1.6


async def test_huge_chunked_body_stops_at_the_cap(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    chunk = b"X" * (64 * 1024)

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(20 * MiB // len(chunk)):
                await response.write(chunk)
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    server = await serve({"/": huge})
    limits = FetchLimits(max_bytes=5 * MiB, total_timeout=5, connect_timeout=1, read_timeout=2)
    with pytest.raises(BodyTooLarge) as info:
        await make_fetcher(server, limits=limits).fetch(server.url())
    assert 5 * MiB < info.value.received <= 5 * MiB + 64 * 1024
    assert info.value.reason == "too_large"
    assert "5.0 MiB" in info.value.message


async def test_declared_oversize_is_refused_before_reading(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve({"/": text_handler(b"X" * (2 * MiB))})
    limits = FetchLimits(max_bytes=1 * MiB)
    with pytest.raises(BodyTooLarge) as info:
        await make_fetcher(server, limits=limits).fetch(server.url())
    assert info.value.received == 0


async def test_gzip_bomb_stops_at_the_decompressed_cap(
    serve: ServeFactory, make_fetcher: FetcherFactory, gzip_bomb: bytes
) -> None:
    assert len(gzip_bomb) < 1 * MiB
    server = await serve({"/": text_handler(gzip_bomb, headers={"Content-Encoding": "gzip"})})
    limits = FetchLimits(max_bytes=5 * MiB, total_timeout=5, connect_timeout=1, read_timeout=2)
    with pytest.raises(FeedTooLarge) as info:
        await make_fetcher(server, limits=limits).fetch(server.url())
    assert isinstance(info.value, BodyTooLarge)
    assert 5 * MiB < info.value.received <= 5 * MiB + 64 * 1024


def _chain(length: int, final: bytes = ICS) -> dict[str, object]:
    routes: dict[str, object] = {
        f"/r{n}": redirect_handler(f"/r{n - 1}") for n in range(1, length + 1)
    }
    routes["/r0"] = text_handler(final)
    return routes


async def test_five_redirects_are_followed(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve(_chain(5))  # type: ignore[arg-type]
    result = await make_fetcher(server).fetch(server.url("/r5"))
    assert isinstance(result, Downloaded)
    assert result.final_url == server.url("/r0")
    assert result.permanent_url is None
    assert server.hits == 6


async def test_six_redirects_are_too_many(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve(_chain(6))  # type: ignore[arg-type]
    with pytest.raises(TooManyRedirects) as info:
        await make_fetcher(server).fetch(server.url("/r6"))
    assert info.value.reason == "too_many_redirects"
    assert server.hits == 6  # the sixth Location was never requested
    assert all(r.path != "/r0" for r in server.requests)


async def test_relative_redirects_resolve_against_the_current_url(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve(
        {
            "/a/b/start": redirect_handler("next"),
            "/a/b/next": redirect_handler("../up?x=1"),
            "/a/up": redirect_handler("/final.ics#frag"),
            "/final.ics": text_handler(),
        }
    )
    result = await make_fetcher(server).fetch(server.url("/a/b/start"))
    assert isinstance(result, Downloaded)
    assert [r.path_qs for r in server.requests] == [
        "/a/b/start",
        "/a/b/next",
        "/a/up?x=1",
        "/final.ics",
    ]
    assert result.final_url == server.url("/final.ics")


async def test_permanent_redirects_report_the_new_address(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve(
        {
            "/old": redirect_handler("/older", 301),
            "/older": redirect_handler("/new", 308),
            "/new": text_handler(),
            "/moved": redirect_handler("/tmp", 301),
            "/tmp": redirect_handler("/new", 302),
            "/temp": redirect_handler("/new", 307),
        }
    )
    fetcher = make_fetcher(server)
    both = await fetcher.fetch(server.url("/old"))
    assert isinstance(both, Downloaded)
    assert both.permanent_url == server.url("/new")
    # A temporary hop ends the permanent part: only the address before it has moved for good.
    mixed = await fetcher.fetch(server.url("/moved"))
    assert isinstance(mixed, Downloaded)
    assert mixed.permanent_url == server.url("/tmp")
    temporary = await fetcher.fetch(server.url("/temp"))
    assert isinstance(temporary, Downloaded)
    assert temporary.permanent_url is None


async def test_redirect_without_location_is_an_http_error(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    server = await serve({"/": text_handler(b"", status=302)})
    with pytest.raises(FeedHTTPError) as info:
        await make_fetcher(server).fetch(server.url())
    assert info.value.status == 302


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><body>Sign in</body></html>",
        b"\xef\xbb\xbf\r\n  <html lang=en><head></head></html>",
    ],
)
async def test_html_page_is_not_a_calendar(
    serve: ServeFactory, make_fetcher: FetcherFactory, body: bytes
) -> None:
    server = await serve({"/": text_handler(body, content_type="text/html")})
    with pytest.raises(NotACalendar, match="web page"):
        await make_fetcher(server).fetch(server.url())


@pytest.mark.parametrize("body", [b"", b" \r\n\t"])
async def test_empty_body_is_an_error_not_zero_events(
    serve: ServeFactory, make_fetcher: FetcherFactory, body: bytes
) -> None:
    server = await serve({"/": text_handler(body)})
    with pytest.raises(EmptyFeed) as info:
        await make_fetcher(server).fetch(server.url())
    assert info.value.reason == "empty_body"


async def test_refused_connection_is_a_connection_error(make_fetcher: FetcherFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on ``port`` now.
    with pytest.raises(FeedConnectionError) as info:
        await make_fetcher().fetch(f"http://127.0.0.1:{port}/", trusted=True)
    assert info.value.reason == "connection_error"


async def test_credentials_and_cookies_stay_with_their_origin(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    other = await serve({"/cal.ics": text_handler()})

    async def start(request: web.Request) -> web.StreamResponse:
        response = web.Response(status=302, headers={"Location": "/again"})
        response.set_cookie("session", "secret")
        return response

    first = await serve({"/start": start, "/again": redirect_handler(other.url("/cal.ics"))})
    url = f"http://operator:pw@127.0.0.1:{first.port}/start"
    result = await make_fetcher(first, other).fetch(url, trusted=True)
    assert isinstance(result, Downloaded)
    assert [r.headers.get("Authorization", "").startswith("Basic ") for r in first.requests] == [
        True,
        True,
    ]
    assert other.requests[0].headers.get("Authorization") is None
    assert all("Cookie" not in r.headers for r in first.requests + other.requests)


async def test_trusted_local_file(tmp_path: Path, make_fetcher: FetcherFactory) -> None:
    path = tmp_path / "feed.ics"
    path.write_bytes(ICS)
    fetcher = make_fetcher()
    for source in (str(path), path.as_uri()):
        result = await fetcher.fetch(source, trusted=True)
        assert isinstance(result, Downloaded)
        assert result.body == ICS
        assert result.final_url == path.as_uri()
    again = await fetcher.fetch(str(path), validators=result.validators, trusted=True)
    assert isinstance(again, NotModified)


async def test_a_local_file_rewritten_within_the_same_second_is_read_again(
    tmp_path: Path, make_fetcher: FetcherFactory
) -> None:
    path = tmp_path / "feed.ics"
    path.write_bytes(ICS)
    stamp = path.stat().st_mtime_ns
    fetcher = make_fetcher()
    first = await fetcher.fetch(str(path), trusted=True)
    assert isinstance(first, Downloaded)
    edited = ICS.replace(b"SUMMARY:Talk", b"SUMMARY:Talk (room change)")
    path.write_bytes(edited)
    os.utime(path, ns=(stamp, stamp))  # the same second (and nanosecond) as before
    second = await fetcher.fetch(str(path), validators=first.validators, trusted=True)
    assert isinstance(second, Downloaded)
    assert second.body == edited
    # Judged by content both ways: touching the file without changing it is "not modified".
    os.utime(path, ns=(stamp + 5 * 10**9, stamp + 5 * 10**9))
    third = await fetcher.fetch(str(path), validators=second.validators, trusted=True)
    assert isinstance(third, NotModified)


async def test_trusted_local_file_limits(tmp_path: Path, make_fetcher: FetcherFactory) -> None:
    big = tmp_path / "big.ics"
    big.write_bytes(b"X" * 2048)
    fetcher = make_fetcher(limits=FetchLimits(max_bytes=1024))
    with pytest.raises(FeedTooLarge):
        await fetcher.fetch(str(big), trusted=True)
    missing = tmp_path / "missing.ics"
    for source in (str(missing), missing.as_uri()):
        with pytest.raises(FeedFileNotFound) as info:
            await fetcher.fetch(source, trusted=True)
        assert str(info.value) == f"file not found: {missing}"
        assert info.value.reason == "file_not_found"  # not a connection error
    with pytest.raises(FeedFileError, match="Cannot read"):
        await fetcher.fetch(str(tmp_path), trusted=True)  # a directory
    empty = tmp_path / "empty.ics"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFeed):
        await fetcher.fetch(empty.as_uri(), trusted=True)


@pytest.mark.parametrize("source", ["file:///etc/hostname", "/etc/hostname", "etc/hostname"])
async def test_untrusted_callers_never_read_files(
    make_fetcher: FetcherFactory, source: str
) -> None:
    fetcher = make_fetcher()
    with pytest.raises(InvalidFeedURL):
        await fetcher.fetch(source)
    assert fetcher.guard.dial_attempts == 0


async def test_fetcher_is_an_async_context_manager(
    serve: ServeFactory,
) -> None:
    server = await serve({"/": text_handler()})
    async with FeedFetcher(
        allow_addresses={("127.0.0.1", server.port)}, allowed_ports={server.port}
    ) as fetcher:
        result = await fetcher.fetch(server.url())
        assert isinstance(result, Downloaded)
    await fetcher.close()  # closing twice is harmless
