"""Resolve the time-zone names real feeds use to zones we trust.

Producers write IANA names (sometimes quoted or prefixed), Windows names (Outlook/Exchange),
manual offsets (``UTC+0`` from WordPress), or names nobody knows. Everything resolves to a tzinfo
plus the IANA name to show people, or to None so the caller can apply its fallback chain.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

_SAFE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*$")
_EMBEDDED_IANA = re.compile(
    r"((?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)"
    r"/[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)?)"
)
_OFFSET = re.compile(r"^(?:UTC|GMT|Z)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "ZULU", "UNIVERSAL", "ETC/UTC", "ETC/GMT"})


@lru_cache(maxsize=1)
def _lower_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


@lru_cache(maxsize=2048)
def _zone(name: str) -> ZoneInfo | None:
    if len(name) > 64 or not _SAFE_NAME.match(name):
        return None
    canonical = _lower_names().get(name.lower())
    if canonical is None:
        return None
    try:
        return ZoneInfo(canonical)
    except Exception:  # corrupt tzdata entry, odd name: treat as unknown
        return None


def _fixed_offset(sign: str, hours: str, minutes: str | None) -> tuple[tzinfo, str] | None:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta >= timedelta(hours=15):
        return None
    if sign == "-":
        delta = -delta
    if not delta:
        return UTC, "UTC"
    if delta.total_seconds() % 3600 == 0:
        # Etc/GMT signs are inverted on purpose (POSIX): UTC+2 is Etc/GMT-2.
        whole = int(delta.total_seconds() // 3600)
        name = f"Etc/GMT{'-' if whole > 0 else '+'}{abs(whole)}"
        zone = _zone(name)
        if zone is not None:
            return zone, name
    return timezone(delta), ""


def resolve_tzid(tzid: str) -> tuple[tzinfo, str] | None:
    """(tzinfo, display name) for a TZID parameter or X-WR-TIMEZONE value, None if unknown."""
    name = tzid.strip().strip('"').strip()
    if not name or len(name) > 200:
        return None
    if name.upper() in _UTC_NAMES:
        return UTC, "UTC"
    zone = _zone(name)
    if zone is not None:
        return zone, zone.key
    windows = WINDOWS_TO_OLSON.get(name)
    if windows is not None:
        zone = _zone(windows)
        if zone is not None:
            return zone, zone.key
    embedded = _EMBEDDED_IANA.search(name)
    if embedded is not None:
        zone = _zone(embedded.group(1))
        if zone is not None:
            return zone, zone.key
    offset = _OFFSET.match(name)
    if offset is not None:
        return _fixed_offset(*offset.groups())
    return None


def display_name(tz: tzinfo | None, tzid: str | None) -> str:
    """The IANA name to show for an aware value, "" for UTC or when nothing better is known."""
    if tz is None:
        return ""
    key = getattr(tz, "key", None)
    if isinstance(key, str) and key:
        return "" if key in {"UTC", "Etc/UTC"} else key
    if tzid:
        resolved = resolve_tzid(tzid)
        if resolved is not None and resolved[1] not in {"UTC", "Etc/UTC"}:
            return resolved[1]
    return ""
