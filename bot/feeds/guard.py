"""Connect-time SSRF guard for aiohttp: checks every resolved and every dialled address.

URL validation alone is not enough: a public-looking host name can resolve to 127.0.0.1, or
resolve differently on the next lookup (DNS rebinding). So the guard sits at two places:

* ``GuardedResolver`` classifies *every* DNS answer and refuses the lookup if any is forbidden;
  aiohttp then connects only to the vetted answers (it does not resolve again).
* ``AddressGuard.socket_factory`` (aiohttp ≥ 3.12 ``TCPConnector(socket_factory=...)``) checks
  the exact ``sockaddr`` before the socket exists. This also covers IP literals, which bypass
  the resolver.

Refusals are raised as ``OSError`` (what aiohttp expects from both hooks) and also recorded in
a per-fetch ``RefusalLog`` so the fetcher can report ``ForbiddenAddress`` instead of a generic
connection error.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import socket
from collections.abc import Iterable
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from bot.core.addresses import classify_address

log = logging.getLogger(__name__)

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]


class RefusedAddress(OSError):
    """Raised inside aiohttp's hooks; turned into ``bot.errors.ForbiddenAddress`` by the fetcher."""


class RefusalLog:
    """Why connections were refused during one fetch.

    Shared through a contextvar: aiohttp runs DNS and dialling in helper tasks, which copy the
    context and therefore see (and append to) the same log object.
    """

    def __init__(self) -> None:
        self.reasons: list[str] = []


current_refusals: contextvars.ContextVar[RefusalLog | None] = contextvars.ContextVar(
    "seminar_bot_refusals", default=None
)


def _canonical(ip: str) -> str:
    return ipaddress.ip_address(ip.split("%", 1)[0]).compressed


class AddressGuard:
    """Decides per (ip, port); the allow-list exempts exact pairs.

    ``allow`` is a test/operator escape hatch (e.g. ``{("127.0.0.1", 8080)}`` for a calendar
    server on the bot's own host). Everything else is judged by
    ``bot.core.addresses.classify_address``.
    """

    def __init__(self, allow: Iterable[tuple[str, int]] = ()) -> None:
        self._allow = frozenset((_canonical(ip), int(port)) for ip, port in allow)
        #: How many sockets the guard was asked to create (allowed or not); useful for audits.
        self.dial_attempts = 0

    @property
    def allowed(self) -> frozenset[tuple[str, int]]:
        """The exempt (canonical ip, port) pairs."""
        return self._allow

    def refusal(self, ip: str, port: int) -> str | None:
        """Why connecting to (ip, port) is refused, or None if it is allowed."""
        try:
            canonical = _canonical(ip)
        except ValueError:
            return f"{ip!r} is not an IP address"
        if (canonical, port) in self._allow:
            return None
        verdict = classify_address(ip)
        if verdict.allowed:
            return None
        return f"{verdict.address} is {verdict.reason}"

    def refuse(self, reason: str) -> RefusedAddress:
        refusals = current_refusals.get()
        if refusals is not None:
            refusals.reasons.append(reason)
        log.warning("SSRF guard refused a connection: %s", reason)
        return RefusedAddress(f"refused by the address guard: {reason}")

    def check(self, ip: str, port: int) -> None:
        reason = self.refusal(ip, port)
        if reason is not None:
            raise self.refuse(reason)

    def socket_factory(self, addr_info: AddrInfo) -> socket.socket:
        """aiohttp ``socket_factory``: last check on the address actually dialled."""
        self.dial_attempts += 1
        family, type_, proto, _, sockaddr = addr_info
        self.check(str(sockaddr[0]), int(sockaddr[1]))
        log.debug("dialling %s port %s", sockaddr[0], sockaddr[1])
        return socket.socket(family=family, type=type_, proto=proto)


class GuardedResolver(AbstractResolver):
    """Wraps a resolver (``ThreadedResolver`` in production, a stub in tests) and vets answers."""

    def __init__(self, inner: AbstractResolver, guard: AddressGuard) -> None:
        self._inner = inner
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        if not answers:
            raise OSError(f"no addresses for {host!r}")
        for answer in answers:
            # Strict: one bad answer refuses the host, so a round-robin cannot sneak one in.
            reason = self._guard.refusal(answer["host"], int(answer["port"]))
            if reason is not None:
                raise self._guard.refuse(f"{host} resolves to {reason}")
        return answers

    async def close(self) -> None:
        await self._inner.close()
