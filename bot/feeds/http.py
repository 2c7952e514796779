"""Downloading a feed body: the only module that speaks HTTP to calendar servers.

Every download is bounded (bytes after decompression, one wall-clock deadline over redirects
and body, at most ``max_redirects`` hops) and, for admin-supplied (untrusted) links, guarded
against server-side request forgery at every hop: URL validation, vetted DNS answers and a
check of the address actually dialled (see ``bot.feeds.guard``). Failures raise ``bot.errors``
types with messages fit to show an admin; a failed fetch never looks like an empty calendar.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot import __version__
from bot.clock import Clock, SystemClock
from bot.core.addresses import DEFAULT_PORTS, normalize_feed_url, redact_url
from bot.core.backoff import parse_retry_after
from bot.errors import (
    EmptyFeed,
    FeedConnectionError,
    FeedFileError,
    FeedFileNotFound,
    FeedHTTPError,
    FeedTimeout,
    FeedTooLarge,
    ForbiddenAddress,
    InvalidFeedURL,
    NotACalendar,
    TooManyRedirects,
)
from bot.feeds.guard import AddressGuard, GuardedResolver, RefusalLog, current_refusals
from bot.feeds.host_slots import HostSlots

log = logging.getLogger(__name__)

USER_AGENT = f"seminar-bot/{__version__} (+https://github.com/seminar-bot/seminar-bot)"
MiB = 1024 * 1024
CHUNK = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
#: Connections of one session at once. Each server takes at most its slots plus its overdue
#: downloads (18 by default), so only several hanging servers together could fill this.
MAX_CONNECTIONS = 100
_HTTP_SCHEMES = {"http": "http", "https": "https", "webcal": "https", "webcals": "https"}


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Caps for one download. Seconds for timeouts; ``max_bytes`` counts decompressed bytes."""

    max_bytes: int = 10 * MiB
    total_timeout: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    max_redirects: int = 5
    #: Downloads from one server at once, in arrival order (see ``bot.feeds.host_slots``).
    per_host: int = 6
    #: A download running this long lends its slot to the next in line and runs on.
    overdue_after: float = 1.0
    #: Lent-out (overdue) downloads one server may carry besides its ``per_host`` slots.
    max_overdue_per_host: int = 12
    #: Longest wait for a slot; then ``HostBusy`` (not polled this time, not a failure).
    max_queue_wait: float = 60.0


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP cache validators from the last good download; empty means "none"."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True, slots=True)
class Downloaded:
    body: bytes
    validators: Validators
    #: Where the body actually came from, after redirects.
    final_url: str
    #: Set when the chain began with permanent redirects (301/308): the feed has moved there.
    permanent_url: str | None
    content_type: str


@dataclass(frozen=True, slots=True)
class NotModified:
    validators: Validators


FetchResult = Downloaded | NotModified


class BodyTooLarge(FeedTooLarge):
    """``FeedTooLarge`` with the figures, so callers and tests can see where reading stopped."""

    def __init__(self, message: str, *, limit: int, received: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.received = received


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n / 1024:.0f} KiB"


def _too_large(limit: int, received: int, *, declared: bool = False) -> BodyTooLarge:
    how = "announces" if declared else "is"
    return BodyTooLarge(
        f"The feed {how} larger than the {_size(limit)} limit; "
        "ask the calendar owner for a smaller feed (fewer past events).",
        limit=limit,
        received=received,
    )


def _check_body(body: bytes) -> None:
    """Cheap early verdicts; full calendar validation is the parser's job."""
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise EmptyFeed("The feed link returned an empty document.")
    if head.startswith((b"<!doctype html", b"<html")):
        raise NotACalendar(
            "The feed link returned a web page, not a calendar. Use the calendar's iCal/ICS "
            "export link (often ending in .ics), not the page you see in a browser."
        )


def _status_error(status: int, reason: str | None, retry_after: float | None) -> FeedHTTPError:
    text = f"HTTP {status}" + (f" {reason}" if reason else "")
    if status in (401, 403):
        hint = "the server refused access; the link may be private or expired."
    elif status in (404, 410):
        hint = "the calendar was not found; the link may have changed."
    elif status == 429:
        hint = "the server asks us to poll less often; the bot will wait."
    elif status >= 500:
        hint = "the calendar server has a problem; the bot will retry later."
    else:
        hint = "the bot expected the calendar itself (HTTP 200)."
    return FeedHTTPError(
        f"The feed server answered {text}: {hint}", status=status, retry_after=retry_after
    )


def _content_tag(body: bytes) -> str:
    """A local file's validator: its content hash (never sent anywhere, only compared)."""
    return f'"sha256-{hashlib.sha256(body).hexdigest()}"'


def _origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host or "", url.port)


def _host_key(url: str) -> str:
    """The server a download's slot is counted against: host and port of the first hop."""
    try:
        parsed = URL(url)
    except ValueError:
        return url  # the download itself reports the bad address
    return f"{(parsed.host or '').lower()}:{parsed.port}"


class FeedFetcher:
    """Downloads feeds; one instance (two aiohttp sessions) per bot.

    Untrusted links (from Discord admins) go through the SSRF guard; trusted ones (operator
    config, CLI) skip the address checks but keep every cap, and may also be local files.

    ``allow_addresses`` exempts exact (ip, port) pairs from the guard: for tests on loopback
    and for operators who knowingly serve a calendar from a private host. ``allowed_ports``
    widens the 80/443 rule for untrusted links (same audience). ``resolver`` replaces the
    system DNS resolver (tests pass a stub; the guard wraps whatever is given).
    """

    def __init__(
        self,
        *,
        limits: FetchLimits | None = None,
        resolver: AbstractResolver | None = None,
        allow_addresses: Iterable[tuple[str, int]] = (),
        allowed_ports: Iterable[int] = DEFAULT_PORTS,
        clock: Clock | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.guard = AddressGuard(allow_addresses)
        self._allowed_ports = frozenset(allowed_ports)
        self._resolver = resolver
        self._clock: Clock = clock or SystemClock()
        self._user_agent = user_agent
        self._guarded: aiohttp.ClientSession | None = None
        self._trusted: aiohttp.ClientSession | None = None
        lim = self.limits
        #: Both sessions share one gate: it is the same server either way.
        self.host_slots = HostSlots(
            per_host=lim.per_host,
            overdue_after=lim.overdue_after,
            max_overdue=lim.max_overdue_per_host,
            max_wait=lim.max_queue_wait,
        )

    async def __aenter__(self) -> FeedFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for session in (self._guarded, self._trusted):
            if session is not None:
                await session.close()
        self._guarded = self._trusted = None

    # --- sessions -------------------------------------------------------------------------

    def _timeout(self) -> aiohttp.ClientTimeout:
        lim = self.limits
        return aiohttp.ClientTimeout(
            total=lim.total_timeout, sock_connect=lim.connect_timeout, sock_read=lim.read_timeout
        )

    def _new_session(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout(),
            trust_env=False,  # environment proxies must not reroute (or bypass) the guard
            cookie_jar=aiohttp.DummyCookieJar(),  # no cookies kept, so none cross origins
            headers={
                "User-Agent": self._user_agent,
                "Accept": "text/calendar, text/plain;q=0.8, */*;q=0.1",
                "Accept-Encoding": "gzip, deflate",
            },
            auto_decompress=True,
            read_bufsize=CHUNK,
        )

    def _session(self, trusted: bool) -> aiohttp.ClientSession:
        if trusted:
            if self._trusted is None:
                self._trusted = self._new_session(
                    aiohttp.TCPConnector(limit=MAX_CONNECTIONS, limit_per_host=0)
                )
            return self._trusted
        if self._guarded is None:
            inner = self._resolver or aiohttp.ThreadedResolver()
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(inner, self.guard),
                socket_factory=self.guard.socket_factory,
                limit=MAX_CONNECTIONS,
                limit_per_host=0,  # ``host_slots`` bounds each server, outside the deadline
                # Resolve and dial afresh each time: a cached answer or a pooled connection
                # would skip the checks when a name is re-pointed (DNS rebinding).
                use_dns_cache=False,
                force_close=True,
            )
            self._guarded = self._new_session(connector)
        return self._guarded

    # --- public API -----------------------------------------------------------------------

    async def fetch(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        trusted: bool = False,
        web_page: bool = False,
    ) -> FetchResult:
        """Download ``url`` (conditionally when ``validators`` are given).

        Raises a ``bot.errors.FetchError`` subclass, ``EmptyFeed`` or ``NotACalendar``;
        ``HostBusy`` when no slot on the server came free in time (the deadline of the
        download starts once it has one). ``web_page=True`` accepts an HTML page (to look for
        the calendar it advertises) under the same guard and caps.
        """
        validators = validators or Validators()
        if trusted and self._is_local(url):
            return await self._fetch_file(url, validators)
        start = self._check_url(url, trusted)
        async with self.host_slots.slot(_host_key(start)):
            return await self._fetch_within_deadline(start, validators, trusted, web_page)

    async def _fetch_within_deadline(
        self, start: str, validators: Validators, trusted: bool, web_page: bool
    ) -> FetchResult:
        refusals = RefusalLog()
        token = current_refusals.set(refusals)
        try:
            async with asyncio.timeout(self.limits.total_timeout):
                return await self._fetch_http(start, validators, trusted, web_page)
        except TimeoutError as exc:
            raise FeedTimeout(
                f"The feed server did not deliver the calendar within "
                f"{self.limits.total_timeout:g} s; the bot will retry later."
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            if refusals.reasons:
                raise ForbiddenAddress(
                    f"The bot will not fetch this feed: {refusals.reasons[0]}. "
                    "Use a public calendar link."
                ) from exc
            raise FeedConnectionError(
                f"Could not connect to the feed server ({exc.host}): {exc.strerror or exc}."
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise InvalidFeedURL("The feed link is not a valid web address.") from exc
        except aiohttp.ClientPayloadError as exc:
            raise FeedConnectionError(
                "The feed download broke off or was badly encoded; the bot will retry later."
            ) from exc
        except aiohttp.ClientResponseError as exc:
            raise FeedConnectionError(
                f"The feed server sent a malformed HTTP response ({exc.message})."
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            # str(exc) of some aiohttp errors embeds the URL, whose path may be a secret token.
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
            raise FeedConnectionError(
                f"The feed download failed ({detail or type(exc).__name__})."
            ) from exc
        finally:
            current_refusals.reset(token)

    # --- helpers --------------------------------------------------------------------------

    def _check_url(self, url: str, trusted: bool) -> str:
        if not trusted:
            return normalize_feed_url(
                url, allowed_ports=self._allowed_ports, exempt=self.guard.allowed
            )
        scheme, sep, rest = url.strip().partition("://")
        mapped = _HTTP_SCHEMES.get(scheme.lower())
        if not sep or mapped is None:
            raise InvalidFeedURL(f"Unsupported feed link scheme in {redact_url(url)}.")
        return f"{mapped}://{rest}"

    @staticmethod
    def _is_local(url: str) -> bool:
        return url.lower().startswith("file:") or "://" not in url

    async def _fetch_http(
        self, start: str, validators: Validators, trusted: bool, web_page: bool = False
    ) -> FetchResult:
        session = self._session(trusted)
        lim = self.limits
        current = URL(start)
        origin = _origin(current)
        auth = None
        if trusted and current.user:
            # Operator-configured credentials go only to the origin they were written for.
            auth = aiohttp.encode_basic_auth(current.user, current.password or "")
        current = current.with_user(None)
        permanent: str | None = None
        still_permanent = True
        for hop in range(lim.max_redirects + 1):
            headers = validators.headers()
            if auth is not None and _origin(current) == origin:
                headers["Authorization"] = auth
            async with session.get(current, headers=headers, allow_redirects=False) as resp:
                status = resp.status
                if status in REDIRECT_STATUSES and hop >= lim.max_redirects:
                    raise TooManyRedirects(
                        f"The feed link redirects more than {lim.max_redirects} times; "
                        "use the final address of the calendar."
                    )
                if status in REDIRECT_STATUSES:
                    target = self._redirect_target(current, resp, trusted)
                    log.info(
                        "feed %s redirects (%d) to %s",
                        redact_url(str(current)),
                        status,
                        redact_url(str(target)),
                    )
                    if status in PERMANENT_REDIRECTS and still_permanent:
                        permanent = str(target)
                    else:
                        still_permanent = False
                    current = target
                    continue
                return await self._final_response(resp, current, validators, permanent, web_page)
        raise AssertionError("unreachable: the loop returns or raises")

    async def _final_response(
        self,
        resp: aiohttp.ClientResponse,
        current: URL,
        validators: Validators,
        permanent: str | None,
        web_page: bool,
    ) -> FetchResult:
        """The answer at the end of the redirects: not modified, an error, or the body."""
        status = resp.status
        new_validators = Validators(
            resp.headers.get("ETag") or validators.etag,
            resp.headers.get("Last-Modified") or validators.last_modified,
        )
        if status == 304:
            if not validators:
                raise _status_error(status, resp.reason, None)
            return NotModified(new_validators)
        if status != 200:
            retry_after = None
            if status in _RETRY_AFTER_STATUSES:
                retry_after = parse_retry_after(
                    resp.headers.get("Retry-After"), now=self._clock.now()
                )
            raise _status_error(status, resp.reason, retry_after)
        body = await self._read_body(resp)
        if not web_page:
            _check_body(body)
        log.debug("fetched %s: %d bytes", redact_url(str(current)), len(body))
        content_type = resp.headers.get("Content-Type", "")
        if "calendar" not in content_type.lower():
            log.debug("feed %s served as %r", redact_url(str(current)), content_type)
        return Downloaded(
            body=body,
            validators=Validators(resp.headers.get("ETag"), resp.headers.get("Last-Modified")),
            final_url=str(current),
            permanent_url=permanent,
            content_type=content_type,
        )

    def _redirect_target(self, current: URL, resp: aiohttp.ClientResponse, trusted: bool) -> URL:
        location = resp.headers.get("Location", "").strip()
        if not location:
            raise FeedHTTPError(
                f"The feed server answered HTTP {resp.status} without saying where to go.",
                status=resp.status,
            )
        try:
            target = current.join(URL(location))
        except ValueError as exc:
            raise InvalidFeedURL("The feed server redirected to a malformed address.") from exc
        checked = self._check_url(str(target.with_fragment(None)), trusted)
        return URL(checked, encoded=True)

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        limit = self.limits.max_bytes
        declared = resp.content_length
        if declared is not None and declared > limit:
            raise _too_large(limit, 0, declared=True)
        body = bytearray()
        # aiohttp hands out *decompressed* data, so a gzip bomb is stopped at the cap too.
        async for chunk in resp.content.iter_chunked(CHUNK):
            body += chunk
            if len(body) > limit:
                raise _too_large(limit, len(body))
        return bytes(body)

    async def _fetch_file(self, url: str, validators: Validators) -> FetchResult:
        """Operator-only: read a local calendar file under the same size cap."""
        if url.lower().startswith("file:"):
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                raise InvalidFeedURL("Only local file:// links are supported.")
            path = Path(unquote(parts.path))
        else:
            path = Path(url)
        limit = self.limits.max_bytes

        def read() -> tuple[bytes, str]:
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                if stat.st_size > limit:
                    raise _too_large(limit, 0, declared=True)
                data = handle.read(limit + 1)
            if len(data) > limit:
                raise _too_large(limit, len(data))
            return data, path.resolve().as_uri()

        try:
            body, final_url = await asyncio.to_thread(read)
        except FileNotFoundError as exc:
            raise FeedFileNotFound(f"file not found: {path}") from exc
        except OSError as exc:
            raise FeedFileError(
                f"Cannot read the calendar file {path}: {exc.strerror or exc}."
            ) from exc
        # Judged by content: a file rewritten within the same second keeps its mtime.
        etag = _content_tag(body)
        if validators.etag == etag:
            return NotModified(validators)
        _check_body(body)
        return Downloaded(
            body=body,
            validators=Validators(etag, None),
            final_url=final_url,
            permanent_url=None,
            content_type="text/calendar",
        )
