"""One event as something a member can add to their own calendar: an .ics file and a link.

Pure: the text comes from the stored occurrence (already cleaned at parse time); here it is
only escaped for iCalendar and URL-encoded for Google Calendar's template link.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from bot.core.models import Instant, Occurrence

GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"
#: Discord's limit for a link button's URL.
LINK_LIMIT = 512
PRODID = "-//seminar-bot//Seminar lookup//EN"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_-]+")


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> list[str]:
    """RFC 5545 folding at 75 octets, never splitting a UTF-8 character."""
    out: list[str] = []
    current = ""
    size = 0
    for ch in line:
        width = len(ch.encode("utf-8"))
        limit = 75 if not out else 74  # continuation lines start with a space
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += ch
        size += width
    out.append(current)
    return [out[0], *(" " + rest for rest in out[1:])]


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _end(occ: Occurrence) -> Instant:
    if occ.end is not None and type(occ.end) is type(occ.start) and occ.end > occ.start:
        return occ.end
    if isinstance(occ.start, datetime):
        return occ.start + timedelta(hours=1)
    return occ.start + timedelta(days=1)


def _date_prop(name: str, value: Instant) -> str:
    if isinstance(value, datetime):
        return f"{name}:{_stamp(value)}"
    return f"{name};VALUE=DATE:{value.strftime('%Y%m%d')}"


def details_text(occ: Occurrence) -> str:
    """Speaker, abstract and link as plain text for a calendar entry's notes."""
    seminar = occ.seminar
    parts = []
    if seminar.speaker:
        who = seminar.speaker + (f" ({seminar.affiliation})" if seminar.affiliation else "")
        parts.append(f"Speaker: {who}")
    body = seminar.abstract or ("" if seminar.title else occ.description)
    if body:
        parts.append(body)
    if occ.url:
        parts.append(occ.url)
    return "\n\n".join(parts)


def event_ics(occ: Occurrence, *, now: datetime) -> bytes:
    """A complete VCALENDAR holding just this occurrence (times in UTC, CRLF, folded)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{_escape(occ.key.uid)}",
        f"DTSTAMP:{_stamp(now)}",
        _date_prop("DTSTART", occ.start),
        _date_prop("DTEND", _end(occ)),
        f"SUMMARY:{_escape(occ.title)}",
    ]
    if occ.key.recurrence_id:
        rid = occ.key.recurrence_id
        lines.append(f"RECURRENCE-ID;VALUE=DATE:{rid}" if len(rid) == 8 else f"RECURRENCE-ID:{rid}")
    if occ.place:
        lines.append(f"LOCATION:{_escape(occ.place)}")
    details = details_text(occ)
    if details:
        lines.append(f"DESCRIPTION:{_escape(details)}")
    if occ.url.startswith(("https://", "http://")):
        lines.append(f"URL:{occ.url}")
    if occ.cancelled:
        lines.append("STATUS:CANCELLED")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    folded = [part for line in lines for part in _fold(line)]
    return ("\r\n".join(folded) + "\r\n").encode("utf-8")


def ics_filename(occ: Occurrence) -> str:
    stem = _UNSAFE_FILENAME.sub("-", occ.title).strip("-")[:60] or "event"
    return f"{stem}.ics"


def _google_dates(occ: Occurrence) -> str:
    end = _end(occ)
    if isinstance(occ.start, datetime) and isinstance(end, datetime):
        return f"{_stamp(occ.start)}/{_stamp(end)}"
    assert isinstance(occ.start, date) and isinstance(end, date)
    return f"{occ.start.strftime('%Y%m%d')}/{end.strftime('%Y%m%d')}"


def google_calendar_link(occ: Occurrence, *, limit: int = LINK_LIMIT) -> str:
    """Google Calendar's "create event" template link, shortened to fit ``limit``.

    The notes are cut first, then the place, then the title, so the link always opens a
    correct date and time.
    """
    title, place, details = occ.title, occ.place, details_text(occ)

    def build() -> str:
        params = {"action": "TEMPLATE", "text": title, "dates": _google_dates(occ)}
        if details:
            params["details"] = details
        if place:
            params["location"] = place
        return f"{GOOGLE_TEMPLATE}?{urlencode(params)}"

    link = build()
    for _ in range(64):  # bounded: each round shortens one field
        if len(link) <= limit:
            return link
        excess = len(link) - limit
        if details:
            details = details[: max(0, len(details) - max(excess // 3, 8))].rstrip()
        elif len(place) > 20:
            place = place[: max(20, len(place) - max(excess // 3, 4))]
        elif title:
            title = title[: max(0, len(title) - max(excess // 3, 4))]
        else:
            break
        link = build()
    return link if len(link) <= limit else f"{GOOGLE_TEMPLATE}?action=TEMPLATE"
