"""Human durations such as ``15m``, ``2h``, ``1d`` or ``1h30m``, used in config and commands."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d{1,6})\s*([wdhms])")
_WHOLE = re.compile(r"^\s*(?:\d{1,6}\s*[wdhms]\s*)+$")

#: Nothing in this project needs to look further ahead than a year.
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """Parse ``1h30m``-style text; raise ValueError with a message fit to show a user."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned or not _WHOLE.match(cleaned):
        raise ValueError(
            f"{text!r} is not a duration; use a number followed by w, d, h, m or s, "
            "for example 15m, 2h, 1d or 1h30m"
        )
    seconds = 0
    seen: set[str] = set()
    for amount, unit in _PART.findall(cleaned):
        if unit in seen:
            raise ValueError(f"{text!r} repeats the unit {unit!r}")
        seen.add(unit)
        seconds += int(amount) * _UNITS[unit]
    value = timedelta(seconds=seconds)
    if not allow_zero and value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    if value > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than {MAX_DURATION.days} days")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest ``parse_duration`` spelling of a duration (``5400 s`` → ``1h30m``)."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0m"
    parts = []
    for unit, size in _UNITS.items():
        if unit == "w":
            continue
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
