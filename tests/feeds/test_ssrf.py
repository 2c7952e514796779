"""The SSRF guard end to end (fault matrix rows 13-17).

"B" is a loopback server the guard must protect: it counts hits and must see none. "A" is the
one allow-listed loopback server positive tests may reach.
"""

from __future__ import annotations

import socket

import aiohttp
import pytest

from bot.errors import ForbiddenAddress, InvalidFeedURL
from bot.feeds.guard import AddressGuard, GuardedResolver, RefusedAddress
from bot.feeds.http import Downloaded
from tests.feeds.address_cases import ADDRESS_CASES
from tests.feeds.conftest import (
    FetcherFactory,
    Served,
    ServeFactory,
    StubResolver,
    redirect_handler,
    text_handler,
)


async def _a_and_b(serve: ServeFactory) -> tuple[Served, Served]:
    b = await serve({"/": text_handler(), "/{tail:.*}": text_handler()})
    return await serve({"/": text_handler()}), b


async def test_redirect_to_forbidden_literal_is_refused_at_the_hop(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    _, b = await _a_and_b(serve)
    a_redirect = await serve({"/": redirect_handler(b.url("/secret"))})
    fetcher = make_fetcher(a_redirect, extra_ports=[b.port])
    with pytest.raises(ForbiddenAddress, match="loopback"):
        await fetcher.fetch(a_redirect.url())
    assert a_redirect.hits == 1
    assert b.hits == 0
    assert fetcher.guard.dial_attempts == 1  # only A was ever dialled


async def test_redirect_to_name_resolving_to_loopback_is_refused(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    _, b = await _a_and_b(serve)
    a = await serve({"/": redirect_handler(b.url("/", host="intranet.example"))})
    resolver = StubResolver({"intranet.example": [[("127.0.0.1", None)]]})
    fetcher = make_fetcher(a, resolver=resolver, extra_ports=[b.port])
    with pytest.raises(ForbiddenAddress, match=r"intranet\.example resolves to 127\.0\.0\.1"):
        await fetcher.fetch(a.url())
    assert resolver.calls == ["intranet.example"]
    assert b.hits == 0
    assert fetcher.guard.dial_attempts == 1


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{b}/",
        "http://[::1]:{b}/",
        "http://[::ffff:127.0.0.1]:{b}/",
        "http://0.0.0.0:{b}/",
        "http://2130706433:{b}/",
        "http://127.1:{b}/",
        "http://0x7f.1:{b}/",
        "http://017700000001:{b}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://localhost:{b}/",
    ],
)
async def test_forbidden_literals_never_open_a_socket(
    serve: ServeFactory, make_fetcher: FetcherFactory, template: str
) -> None:
    a, b = await _a_and_b(serve)
    resolver = StubResolver({})
    fetcher = make_fetcher(a, resolver=resolver, extra_ports=[b.port])
    with pytest.raises(ForbiddenAddress) as info:
        await fetcher.fetch(template.format(b=b.port))
    assert "public calendar link" in info.value.message
    assert fetcher.guard.dial_attempts == 0
    assert resolver.calls == []
    assert b.hits == 0


async def test_dns_rebinding_is_caught_on_the_next_request(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    a, b = await _a_and_b(serve)
    # The name first answers with A (allow-listed: it stands in for a public address), then is
    # re-pointed at B, a loopback service. Each request resolves afresh and is checked again.
    resolver = StubResolver({"cal.example": [[("127.0.0.1", a.port)], [("127.0.0.1", b.port)]]})
    fetcher = make_fetcher(a, resolver=resolver)
    url = f"http://cal.example:{a.port}/"
    first = await fetcher.fetch(url)
    assert isinstance(first, Downloaded)
    with pytest.raises(ForbiddenAddress, match="loopback"):
        await fetcher.fetch(url)
    assert resolver.calls == ["cal.example", "cal.example"]
    assert a.hits == 1
    assert b.hits == 0


async def test_one_bad_answer_among_good_ones_refuses_the_host(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    a, b = await _a_and_b(serve)
    resolver = StubResolver({"mixed.example": [[("127.0.0.1", a.port), ("10.0.0.7", a.port)]]})
    fetcher = make_fetcher(a, resolver=resolver)
    with pytest.raises(ForbiddenAddress, match="private network"):
        await fetcher.fetch(f"http://mixed.example:{a.port}/")
    assert a.hits == 0
    assert b.hits == 0
    assert fetcher.guard.dial_attempts == 0


async def test_socket_factory_refusal_fails_the_request(serve: ServeFactory) -> None:
    """The connect-time check on its own (no guarded resolver, a literal that skips DNS)."""
    a, b = await _a_and_b(serve)
    guard = AddressGuard(allow=[("127.0.0.1", a.port)])
    connector = aiohttp.TCPConnector(socket_factory=guard.socket_factory, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(a.url()) as response:
            assert response.status == 200
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            async with session.get(b.url()):
                pass
    assert isinstance(info.value.os_error, RefusedAddress)
    assert guard.dial_attempts == 2
    assert a.hits == 1
    assert b.hits == 0


async def test_trusted_fetch_skips_the_address_guard(
    serve: ServeFactory, make_fetcher: FetcherFactory
) -> None:
    _, b = await _a_and_b(serve)
    fetcher = make_fetcher(extra_ports=[b.port])  # no address allow-listed
    result = await fetcher.fetch(b.url(), trusted=True)
    assert isinstance(result, Downloaded)
    assert b.hits == 1
    with pytest.raises(ForbiddenAddress):
        await fetcher.fetch(b.url())
    assert b.hits == 1


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("file:///etc/passwd", "file://"),
        ("ftp://example.org/cal.ics", "ftp://"),
        ("gopher://example.org:70/_", "gopher://"),
        ("http://example.org:22/", "not 22"),
        ("http://user:pass@example.org/", "user name or password"),
    ],
)
async def test_bad_links_are_rejected_before_any_lookup(
    make_fetcher: FetcherFactory, template: str, words: str
) -> None:
    resolver = StubResolver({})
    fetcher = make_fetcher(resolver=resolver)
    with pytest.raises(InvalidFeedURL, match=words):
        await fetcher.fetch(template)
    assert resolver.calls == []
    assert fetcher.guard.dial_attempts == 0


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/"])
@pytest.mark.parametrize("trusted", [False, True])
async def test_redirects_to_other_schemes_are_refused(
    serve: ServeFactory, make_fetcher: FetcherFactory, target: str, trusted: bool
) -> None:
    a = await serve({"/": redirect_handler(target)})
    with pytest.raises(InvalidFeedURL):
        await make_fetcher(a).fetch(a.url(), trusted=trusted)


# --- the shared address table, through each guard layer --------------------------------------


@pytest.mark.parametrize(("address", "allowed", "why"), ADDRESS_CASES)
async def test_resolver_layer_agrees_with_the_table(address: str, allowed: bool, why: str) -> None:
    guard = AddressGuard()
    resolver = GuardedResolver(StubResolver({"h.example": [[(address, 443)]]}), guard)
    if allowed:
        answers = await resolver.resolve("h.example", 443)
        assert [a["host"] for a in answers] == [address]
    else:
        with pytest.raises(RefusedAddress) as info:
            await resolver.resolve("h.example", 443)
        assert why.lower() in str(info.value).lower()


@pytest.mark.parametrize(("address", "allowed", "why"), ADDRESS_CASES)
def test_socket_layer_agrees_with_the_table(address: str, allowed: bool, why: str) -> None:
    guard = AddressGuard()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr: tuple[object, ...] = (address, 443, 0, 0) if ":" in address else (address, 443)
    addr_info = (int(family), int(socket.SOCK_STREAM), socket.IPPROTO_TCP, "", sockaddr)
    if allowed:
        try:
            sock = guard.socket_factory(addr_info)
        except OSError as exc:  # pragma: no cover - host without IPv6 sockets
            assert not isinstance(exc, RefusedAddress)
        else:
            sock.close()  # created, never connected
    else:
        with pytest.raises(RefusedAddress, match=why):
            guard.socket_factory(addr_info)
    assert guard.dial_attempts == 1


def test_allow_list_exempts_exact_pairs_only() -> None:
    guard = AddressGuard(allow=[("127.0.0.1", 8080), ("::1", 9000)])
    assert guard.refusal("127.0.0.1", 8080) is None
    assert guard.refusal("0:0:0:0:0:0:0:1", 9000) is None
    assert guard.refusal("127.0.0.1", 8081) is not None
    assert guard.refusal("127.0.0.2", 8080) is not None
    assert guard.refusal("not-an-ip", 80) is not None
