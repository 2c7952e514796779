"""Generate Events-Calendar-style seminar feeds, for tests and benchmarks.

The output imitates what The Events Calendar (ECPv) exports: CRLF, no folding, a VTIMEZONE,
``<post id>-<start epoch>-<end epoch>@host`` UIDs whose epochs are local wall time read as
UTC, seminar-shaped SUMMARY/DESCRIPTION, a floating DTSTAMP that changes every export, and
(optionally) a share of RRULE series with EXDATE and RECURRENCE-ID overrides like Google's.
"""

from __future__ import annotations

import calendar
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

HOST = "www.cs.example.edu"
ZONE = "America/New_York"

HEADER = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "PRODID:-//Department of Computer Science - ECPv6.15.0//NONSGML v1.0//EN\r\n"
    "CALSCALE:GREGORIAN\r\n"
    "METHOD:PUBLISH\r\n"
    "X-WR-CALNAME:Department of Computer Science\r\n"
    "X-ORIGINAL-URL:https://www.cs.example.edu\r\n"
    "X-WR-CALDESC:Events for Department of Computer Science\r\n"
    "BEGIN:VTIMEZONE\r\n"
    "TZID:America/New_York\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZOFFSETFROM:-0500\r\n"
    "TZOFFSETTO:-0400\r\n"
    "TZNAME:EDT\r\n"
    "DTSTART:20260308T070000\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZOFFSETFROM:-0400\r\n"
    "TZOFFSETTO:-0500\r\n"
    "TZNAME:EST\r\n"
    "DTSTART:20261101T060000\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


@dataclass(frozen=True)
class Talk:
    """One seminar as the website holds it; ``post_id`` is stable across reschedules."""

    post_id: int
    start: datetime  # aware, in ZONE
    minutes: int = 60
    speaker: str = "Ada Lovelace"
    affiliation: str = "University of London"
    title: str = "Notes on the Analytical Engine"
    room: str = "Hackerman Hall B-17"
    abstract: str = "We discuss the engine."
    series: str = "CS Seminar"
    summary_override: str = ""
    status: str = ""
    #: Weekly RRULE with this many occurrences (0 = single event).
    weekly_count: int = 0
    exdates: tuple[datetime, ...] = ()
    #: Overridden occurrences: original start -> moved start.
    overrides: tuple[tuple[datetime, datetime], ...] = field(default_factory=tuple)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    @property
    def uid(self) -> str:
        if self.weekly_count:
            return f"series-{self.post_id}@{HOST}"
        return f"{self.post_id}-{_wall_epoch(self.start)}-{_wall_epoch(self.end)}@{HOST}"

    @property
    def url(self) -> str:
        return f"https://{HOST}/event/talk-{self.post_id}/"

    @property
    def summary(self) -> str:
        if self.summary_override:
            return self.summary_override
        return f"{self.series}: {self.speaker}, {self.affiliation} – “{self.title}”"

    def moved(self, new_start: datetime) -> Talk:
        return replace(self, start=new_start)


def _wall_epoch(value: datetime) -> int:
    """TEC's UID epochs: the local wall-clock time read as if it were UTC."""
    return calendar.timegm(value.replace(tzinfo=None).timetuple())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("\n", "\\n")


def _local(value: datetime) -> str:
    return value.astimezone(ZoneInfo(ZONE)).strftime("%Y%m%dT%H%M%S")


def vevent(talk: Talk, *, stamp: datetime) -> str:
    description = (
        f"Location{talk.room}Abstract{talk.abstract}Bio{talk.speaker} is a researcher at "
        f"{talk.affiliation}.VideoWatch seminar video."
    )
    lines = [
        "BEGIN:VEVENT",
        f"DTSTART;TZID={ZONE}:{_local(talk.start)}",
        f"DTEND;TZID={ZONE}:{_local(talk.end)}",
        f"DTSTAMP:{stamp:%Y%m%dT%H%M%S}",
        "CREATED:20260101T120000Z",
        "LAST-MODIFIED:20260102T120000Z",
        f"UID:{talk.uid}",
        f"SUMMARY:{_escape(talk.summary)}",
        f"DESCRIPTION:{_escape(description)}",
        f"URL:{talk.url}",
    ]
    if talk.status:
        lines.append(f"STATUS:{talk.status}")
    if talk.weekly_count:
        lines.append(f"RRULE:FREQ=WEEKLY;COUNT={talk.weekly_count}")
        for exdate in talk.exdates:
            lines.append(f"EXDATE;TZID={ZONE}:{_local(exdate)}")
    lines.append("END:VEVENT")
    block = "\r\n".join(lines) + "\r\n"
    for original, moved in talk.overrides:
        override = replace(talk, start=moved, weekly_count=0, exdates=(), overrides=())
        block += (
            "BEGIN:VEVENT\r\n"
            f"DTSTART;TZID={ZONE}:{_local(override.start)}\r\n"
            f"DTEND;TZID={ZONE}:{_local(override.end)}\r\n"
            f"DTSTAMP:{stamp:%Y%m%dT%H%M%S}\r\n"
            f"UID:{talk.uid}\r\n"
            f"RECURRENCE-ID;TZID={ZONE}:{_local(original)}\r\n"
            f"SUMMARY:{_escape(talk.summary)} (moved)\r\n"
            f"URL:{talk.url}\r\n"
            "END:VEVENT\r\n"
        )
    return block


def render_feed(talks: Iterable[Talk], *, stamp: datetime | None = None) -> bytes:
    """A whole feed; TEC ends the body without a final CRLF."""
    stamp = stamp or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    # Written event by event into one growing buffer: the bench measures the poller's memory,
    # and a whole-body str with its concatenated copies (four bodies at 50,000 events), or
    # thousands of parts left behind in the heap, would dwarf it.
    out = io.BytesIO()
    out.write(HEADER.encode("utf-8"))
    for talk in talks:
        out.write(vevent(talk, stamp=stamp).encode("utf-8"))
    out.write(b"END:VCALENDAR")
    return out.getvalue()


def seminar_series(
    count: int,
    *,
    first: datetime,
    recurring_share: float = 0.0,
    spacing: timedelta = timedelta(hours=6),
) -> list[Talk]:
    """``count`` talks from ``first`` on; a share of them weekly series with EXDATE/overrides."""
    return list(
        iter_seminar_series(count, first=first, recurring_share=recurring_share, spacing=spacing)
    )


def iter_seminar_series(
    count: int,
    *,
    first: datetime,
    recurring_share: float = 0.0,
    spacing: timedelta = timedelta(hours=6),
) -> Iterator[Talk]:
    """:func:`seminar_series` one talk at a time (a benchmark need not hold them all)."""
    zone = ZoneInfo(ZONE)
    every = round(1 / recurring_share) if recurring_share > 0 else 0
    for index in range(count):
        start = (first + spacing * index).astimezone(zone)
        talk = Talk(
            post_id=100_000 + index,
            start=start,
            speaker=f"Speaker {index}",
            affiliation=f"Institute {index % 97}, University {index % 13}",
            title=f"Results on problem {index}: a survey",
            room=f"Room {index % 40}",
            abstract=f"Abstract of talk {index}. " * 8,
        )
        if every and index % every == 0:
            talk = replace(
                talk,
                weekly_count=8,
                exdates=(start + timedelta(weeks=2),),
                overrides=((start + timedelta(weeks=3), start + timedelta(weeks=3, hours=2)),),
            )
        yield talk
