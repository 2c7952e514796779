"""Which network addresses a feed may point at, and what a feed URL may look like.

Feed URLs come from Discord admins, so they are untrusted: without these checks ``/feed add``
would let anyone in a guild make the bot fetch cloud metadata, the router's admin page or a
service on the bot's own host (server-side request forgery). ``ipaddress.is_private`` alone is
not enough (Python 3.11 calls ``224.0.0.1`` and ``::127.0.0.1`` global): IPv4 hidden inside IPv6
transition forms is unwrapped first, then an explicit deny table applies.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from bot.errors import ForbiddenAddress, InvalidFeedURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS: frozenset[int] = frozenset({80, 443})
MAX_URL_LENGTH = 2048

_SCHEME_MAP = {"http": "http", "https": "https", "webcal": "https", "webcals": "https"}
_DEFAULT_PORT = {"http": 80, "https": 443}


def _v4(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def _v6(text: str) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network(text)


#: IPv4 special-purpose ranges (IANA registry). Order matters only for which reason is reported.
IPV4_DENY: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_v4("0.0.0.0/8"), "a 'this network' address (reaches the bot's own host)"),
    (_v4("10.0.0.0/8"), "a private network address"),
    (_v4("172.16.0.0/12"), "a private network address"),
    (_v4("192.168.0.0/16"), "a private network address"),
    (_v4("100.64.0.0/10"), "a carrier-grade NAT / VPN address"),
    (_v4("127.0.0.0/8"), "a loopback address (the bot's own host)"),
    (_v4("169.254.0.0/16"), "a link-local address (cloud metadata service)"),
    (_v4("192.0.0.0/24"), "an IETF protocol address"),
    (_v4("192.0.2.0/24"), "a documentation address"),
    (_v4("198.51.100.0/24"), "a documentation address"),
    (_v4("203.0.113.0/24"), "a documentation address"),
    (_v4("192.88.99.0/24"), "a 6to4 relay address"),
    (_v4("198.18.0.0/15"), "a benchmarking address"),
    (_v4("224.0.0.0/4"), "a multicast address"),
    (_v4("240.0.0.0/4"), "a reserved address"),
)

#: IPv6 special-purpose ranges (IANA registry). The mapped and well-known NAT64 prefixes are not
#: listed: they are judged by the IPv4 address they carry (a DNS64 network legitimately answers
#: with them).
IPV6_DENY: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_v6("::/128"), "the unspecified address"),
    (_v6("::1/128"), "a loopback address (the bot's own host)"),
    (_v6("::/96"), "a deprecated IPv4-compatible address"),
    (_v6("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_v6("100::/64"), "a discard-only address"),
    (_v6("2001::/32"), "a Teredo tunnel address"),
    (_v6("2001::/23"), "an IETF special-purpose address"),
    (_v6("2001:db8::/32"), "a documentation address"),
    (_v6("3fff::/20"), "a documentation address"),
    (_v6("2002::/16"), "a 6to4 tunnel address"),
    (_v6("fc00::/7"), "a private (unique local) address"),
    (_v6("fe80::/10"), "a link-local address"),
    (_v6("fec0::/10"), "a site-local address"),
    (_v6("ff00::/8"), "a multicast address"),
)

_MAPPED = _v6("::ffff:0:0/96")
_NAT64 = _v6("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class AddressVerdict:
    """The decision for one address; ``reason`` is empty when the address is allowed."""

    address: IPAddress
    allowed: bool
    reason: str = ""
    #: The IPv4 address found inside an IPv6 transition form, if any.
    embedded: ipaddress.IPv4Address | None = None


def parse_ip(value: str | IPAddress) -> IPAddress:
    """Parse a canonical IP literal; raises ``ValueError`` for anything else."""
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    return ipaddress.ip_address(value.strip().strip("[]"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, str]:
    """The IPv4 address carried by a transition form, and the form's name."""
    if address in _MAPPED:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address.teredo is not None:
        return address.teredo[1], "Teredo"
    if int(address) >> 32 == 0 and int(address) > 1:
        return ipaddress.IPv4Address(int(address)), "IPv4-compatible"
    return None, ""


def _ipv4_reason(address: ipaddress.IPv4Address) -> str:
    for network, reason in IPV4_DENY:
        if address in network:
            return reason
    return _flag_reason(address)


def _flag_reason(address: IPAddress) -> str:
    """Catch whatever the explicit tables miss, using the stdlib registry."""
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address (the bot's own host)"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "a private or special-purpose address"
    return ""


def classify_address(value: str | IPAddress) -> AddressVerdict:
    """Decide whether the bot may connect to ``value`` on an admin's behalf."""
    address = parse_ip(value)
    if isinstance(address, ipaddress.IPv4Address):
        reason = _ipv4_reason(address)
        return AddressVerdict(address, not reason, reason)
    if address.scope_id:
        return AddressVerdict(address, False, "a scoped (interface-local) address")
    embedded, form = _embedded_ipv4(address)
    if embedded is not None and (address in _MAPPED or address in _NAT64):
        inner = _ipv4_reason(embedded)
        if inner:
            reason = f"the {form} form of {embedded}, {inner}"
            return AddressVerdict(address, False, reason, embedded)
        return AddressVerdict(address, True, "", embedded)
    for network, reason in IPV6_DENY:
        if address in network:
            if embedded is not None:
                inner = _ipv4_reason(embedded)
                detail = f" carrying {embedded}" + (f", {inner}" if inner else "")
                reason += detail
            return AddressVerdict(address, False, reason, embedded)
    reason = _flag_reason(address)
    return AddressVerdict(address, not reason, reason, embedded)


def check_address(value: str | IPAddress) -> IPAddress:
    """Return the parsed address, or raise ``ForbiddenAddress`` with an admin-readable reason."""
    verdict = classify_address(value)
    if not verdict.allowed:
        raise ForbiddenAddress(
            f"The bot will not fetch feeds from {verdict.address}: it is {verdict.reason}. "
            "Use a public calendar link."
        )
    return verdict.address


# --- URLs ---------------------------------------------------------------------------------

_NUMERIC_PART = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _parse_ipv4_number(part: str) -> int | None:
    if part.startswith("0x"):
        return int(part[2:], 16) if part[2:] else 0
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if all(c in "01234567" for c in part) else None
    return int(part)


def parse_numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Read the legacy numeric IPv4 spellings (``2130706433``, ``127.1``, ``0x7f.1``, octal).

    Returns None when ``host`` does not end in a number, i.e. is an ordinary name. Raises
    ``ValueError`` when it does but is not a valid address (WHATWG URL rules).
    """
    parts = host.lower().split(".")
    if not _NUMERIC_PART.match(parts[-1]):
        return None
    if len(parts) > 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        raise ValueError(host)
    numbers = [_parse_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        raise ValueError(host)
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ValueError(host)
    result = values[-1]
    for index, n in enumerate(values[:-1]):
        result += n << (8 * (3 - index))
    return ipaddress.IPv4Address(result)


def _normalize_hostname(host: str, port: int, exempt: Collection[tuple[str, int]]) -> str:
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidFeedURL(f"The host name {host!r} is not a valid domain name.") from exc
    if ascii_host != host:
        # IDNA folds look-alikes (fullwidth digits, ideographic dots) into ASCII: re-check.
        return _normalize_host(ascii_host, port, exempt)
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidFeedURL(f"The host name {host!r} is not a valid domain name.")
    if labels[-1] == "localhost":
        raise ForbiddenAddress(
            f"The bot will not fetch feeds from {host!r}: it names the bot's own host. "
            "Use a public calendar link."
        )
    return ascii_host


def _literal(address: IPAddress, port: int, exempt: Collection[tuple[str, int]]) -> IPAddress:
    if (address.compressed, port) in exempt:
        return address
    return check_address(address)


def _normalize_host(raw_host: str, port: int, exempt: Collection[tuple[str, int]]) -> str:
    """Canonical host for the URL; IP literals are classified here, before any connection."""
    if raw_host.startswith("["):
        if not raw_host.endswith("]"):
            raise InvalidFeedURL("The link has a malformed IPv6 address.")
        try:
            v6 = ipaddress.IPv6Address(raw_host[1:-1])
        except ValueError as exc:
            raise InvalidFeedURL("The link has a malformed IPv6 address.") from exc
        return f"[{_literal(v6, port, exempt).compressed}]"
    host = raw_host.lower()
    if not host:
        raise InvalidFeedURL("The link has no host name.")
    if host.endswith("."):
        raise InvalidFeedURL("The host name must not end with a dot.")
    try:
        v4 = parse_numeric_ipv4(host)
    except ValueError as exc:
        raise InvalidFeedURL(
            f"The host {raw_host!r} looks like a numeric address but is not a valid one."
        ) from exc
    if v4 is not None:
        return _literal(v4, port, exempt).compressed
    return _normalize_hostname(host, port, exempt)


def _split_netloc(netloc: str) -> tuple[str, str | None]:
    """Host and raw port text; brackets kept so IPv6 stays recognisable."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end == -1:
            raise InvalidFeedURL("The link has a malformed IPv6 address.")
        rest = netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidFeedURL("The link has a malformed IPv6 address.")
        return netloc[: end + 1], (rest[1:] if rest else None)
    host, sep, port = netloc.rpartition(":")
    if not sep:
        return netloc, None
    return host, port


def normalize_feed_url(
    url: str,
    *,
    allowed_ports: Collection[int] | None = DEFAULT_PORTS,
    exempt: Collection[tuple[str, int]] = (),
) -> str:
    """Validate a feed link from an untrusted admin and return its canonical form.

    Raises ``InvalidFeedURL`` for links the bot cannot or will not use and ``ForbiddenAddress``
    for literal addresses inside private or special networks. Host names are not resolved
    here; the fetcher checks every resolved address again at connect time.
    ``allowed_ports=None`` accepts any port; ``exempt`` lists canonical (ip, port) pairs whose
    literals are accepted anyway. Both are operator/test settings, never admin input.
    """
    scheme, rest = _scheme_and_rest(url.strip())
    try:
        parts = urlsplit(f"{scheme}://{rest}")
    except ValueError as exc:
        raise InvalidFeedURL(f"The feed link is malformed: {exc}.") from exc
    if "@" in parts.netloc:
        raise InvalidFeedURL(
            "Feed links must not contain a user name or password; "
            "use the calendar's public or secret-address link instead."
        )
    raw_host, port_text = _split_netloc(parts.netloc)
    port = _port(scheme, port_text, allowed_ports)
    host = _normalize_host(raw_host, port, exempt)
    netloc = host if port == _DEFAULT_PORT[scheme] else f"{host}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _scheme_and_rest(text: str) -> tuple[str, str]:
    """The canonical scheme and what follows ``://``, after the checks on the raw text."""
    if not text:
        raise InvalidFeedURL("The feed link is empty.")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidFeedURL(f"The feed link is longer than {MAX_URL_LENGTH} characters.")
    if _CONTROL.search(text) or "\\" in text:
        raise InvalidFeedURL("The feed link contains spaces, backslashes or control characters.")
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise InvalidFeedURL("The feed link must start with https:// (or http:// or webcal://).")
    if scheme not in _SCHEME_MAP:
        raise InvalidFeedURL(
            f"Only http://, https:// and webcal:// feed links are supported, not {scheme}://."
        )
    return _SCHEME_MAP[scheme], rest


def _port(scheme: str, port_text: str | None, allowed_ports: Collection[int] | None) -> int:
    """The port the link dials (the scheme's default when it names none), if allowed."""
    port = _DEFAULT_PORT[scheme]
    if port_text is not None and port_text != "":
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidFeedURL(f"The port {port_text!r} in the feed link is not valid.")
        port = int(port_text)
    if allowed_ports is not None and port not in allowed_ports:
        allowed = " or ".join(str(p) for p in sorted(allowed_ports)) or "no port"
        raise InvalidFeedURL(f"Feed links may only use port {allowed}, not {port}.")
    return port


def redact_url(url: str) -> str:
    """A loggable form: scheme, host and port only (paths of private feeds hold secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{port}/…"
