"""The weekly digest, pure: when it is due, which week it covers, and what it lists.

A feed's digest setting such as ``mon 09:00`` is read in the feed's zone; the digest covers
the seven local days starting on that day. Everything takes ``now``, so tests control time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.models import Occurrence
from bot.core.render import speaker_line, truncate

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*([a-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*$")
TITLE = "This week's seminars"
#: Discord's embed description cap.
DESCRIPTION_LIMIT = 4096
#: Digests posted later than this after their time (the bot was down) are skipped.
LATE_LIMIT = timedelta(days=1)

Escape = Callable[[str], str]
When = Callable[[Occurrence], str]


@dataclass(frozen=True, slots=True)
class DigestSpec:
    weekday: int  # Monday = 0
    at: time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at:%H:%M}"


def parse_spec(text: str) -> DigestSpec:
    """``mon 09:00`` or ``Monday 9:00``; raises ValueError with a readable message."""
    match = _SPEC.match(text.strip().lower())
    if not match or match.group(1) not in WEEKDAYS:
        raise ValueError(f"{text!r} is not a weekly time; write a day and a time like 'mon 09:00'")
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} has an impossible time of day")
    return DigestSpec(WEEKDAYS.index(match.group(1)), time(hour, minute))


@dataclass(frozen=True, slots=True)
class DigestWeek:
    #: Stable key of the week in the store: its first local day.
    key: str
    first_day: date
    #: When the digest for this week is due (UTC).
    due: datetime
    #: The covered span, [start, end) in UTC (local midnights).
    start: datetime
    end: datetime

    def contains(self, occ: Occurrence) -> bool:
        if isinstance(occ.start, datetime):
            return self.start <= occ.start.astimezone(UTC) < self.end
        return self.first_day <= occ.start < self.first_day + timedelta(days=7)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def week_of(spec: DigestSpec, zone: ZoneInfo, first_day: date) -> DigestWeek:
    due = datetime.combine(first_day, spec.at, tzinfo=zone).astimezone(UTC)
    return DigestWeek(
        key=first_day.isoformat(),
        first_day=first_day,
        due=due,
        start=_midnight(first_day, zone),
        end=_midnight(first_day + timedelta(days=7), zone),
    )


def current_week(spec: DigestSpec, zone: ZoneInfo, now: datetime) -> DigestWeek:
    """The week whose digest time is the latest one at or before ``now``."""
    local = now.astimezone(zone)
    first = local.date() - timedelta(days=(local.weekday() - spec.weekday) % 7)
    week = week_of(spec, zone, first)
    if week.due > now:
        week = week_of(spec, zone, first - timedelta(days=7))
    return week


def may_post(week: DigestWeek, now: datetime) -> bool:
    """A digest not posted yet goes out at its time, or late by at most ``LATE_LIMIT``."""
    return week.due <= now < min(week.due + LATE_LIMIT, week.end)


# --- content ------------------------------------------------------------------------------


def entry(occ: Occurrence, *, when: When, escape: Escape) -> str:
    title = escape(truncate(occ.title, 150))
    line = f"~~{title}~~ (cancelled)" if occ.cancelled else f"**{title}**"
    speaker = speaker_line(occ)
    if speaker:
        line += f" — {escape(truncate(speaker, 100))}"
    detail = when(occ)
    if occ.place and not occ.cancelled:
        detail += f" · {escape(truncate(occ.place, 80))}"
    return f"{line}\n{detail}"


def description(
    occurrences: Sequence[Occurrence],
    *,
    when: When,
    escape: Escape,
    empty: str = "No seminars this week.",
    limit: int = DESCRIPTION_LIMIT,
) -> str:
    """One entry per talk, soonest first, cut with a count of the rest to fit ``limit``."""
    if not occurrences:
        return empty
    entries = [entry(o, when=when, escape=escape) for o in occurrences]
    kept: list[str] = []
    used = 0
    for index, text in enumerate(entries):
        rest = len(entries) - index - 1
        tail = f"\n\n…and {rest} more: see `/seminars week`" if rest else ""
        cost = len(text) + (2 if kept else 0)
        if used + cost + len(tail) > limit:
            more = len(entries) - index
            note = f"…and {more} more: see `/seminars week`"
            return "\n\n".join([*kept, note]) if kept else note
        kept.append(text)
        used += cost
    return "\n\n".join(kept)


def span_label(week: DigestWeek) -> str:
    last = week.first_day + timedelta(days=6)
    first = week.first_day
    return f"{first:%a} {first.day} {first:%b} – {last:%a} {last.day} {last:%b %Y}"


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def digest_nonce(feed_id: int, week: DigestWeek) -> str:
    """Deterministic, at most 25 characters (Discord's nonce cap)."""
    return f"wd{feed_id % 10**12}-{week.first_day:%Y%m%d}"


def digest_footer(feed_name: str, week: DigestWeek) -> str:
    """What the digest's footer says. Feed names are unique in a server, so this also tells a
    restarted bot which of a channel's messages is its digest of that feed and week."""
    return f"{feed_name} · {span_label(week)}"


def digest_marker(feed_id: int, week: DigestWeek) -> str:
    """The visible tag older releases put in the footer, still recognised after an upgrade."""
    tag = hashlib.sha256(f"digest:{feed_id}:{week.key}".encode()).hexdigest()[:10]
    return f"ref wd-{tag}"
