"""What counts as a change people can see, and how to describe it.

Producers rewrite DTSTAMP on every download and often forget LAST-MODIFIED/SEQUENCE, so change
detection hashes only the fields a reader sees (docs/reliability.md, rule 11).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.models import FieldChange, Instant, Occurrence, instant_to_json

#: The single list of fields that make up an occurrence's visible content. Dotted names reach
#: into ``Occurrence.seminar``. DTSTAMP, LAST-MODIFIED and SEQUENCE are deliberately absent.
FINGERPRINT_FIELDS: Final[tuple[str, ...]] = (
    "start",
    "end",
    "timezone",
    "timezone_assumed",
    "summary",
    "description",
    "location",
    "url",
    "status",
    "categories",
    "seminar.series",
    "seminar.speaker",
    "seminar.affiliation",
    "seminar.title",
    "seminar.location",
    "seminar.abstract",
    "seminar.bio",
    "seminar.video",
)

#: Long texts are shortened in change descriptions; delivery applies Discord's own limits.
MAX_CHANGE_TEXT: Final = 300


#: Every fingerprint field of an occurrence in one C call (dotted names reach the seminar).
_FIELD_VALUES = attrgetter(*FINGERPRINT_FIELDS)


def _canonical(value: Any) -> Any:
    """None and "" are the same, surrounding whitespace is noise, category order is noise."""
    if type(value) is str:  # most fields: tested first, the rest in the order below
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, datetime | date):
        return instant_to_json(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, tuple | list):
        return sorted(str(v).strip() for v in value if str(v).strip())
    return value


def canonical_fields(occ: Occurrence) -> dict[str, Any]:
    return dict(zip(FINGERPRINT_FIELDS, map(_canonical, _FIELD_VALUES(occ)), strict=True))


def fingerprint(occ: Occurrence) -> str:
    """A stable hash of the visible content, independent of property order and volatile stamps."""
    payload = json.dumps(
        canonical_fields(occ), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def time_moved(old: Occurrence, new: Occurrence) -> bool:
    """True when the start or end instant changed (a reschedule rather than an edit)."""
    return instant_to_json(old.start) != instant_to_json(new.start) or instant_to_json(
        old.end
    ) != instant_to_json(new.end)


# --- human descriptions -------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def _format_all_day(start: date, end: Instant | None) -> str:
    # DTEND of an all-day event is exclusive: a one-day event ends the next day.
    last = (
        end - timedelta(days=1) if isinstance(end, date) and not isinstance(end, datetime) else None
    )
    if last is None or last <= start:
        return f"{_day(start)} (all day)"
    return f"{_day(start)} – {_day(last)} (all day)"


def format_when(occ: Occurrence) -> str:
    """Start–end in the producer's zone (UTC when unknown).

    E.g. ``Thu 5 Mar 2026 10:45–11:45 (America/New_York)``; readers compare this, not UTC.
    """
    start = occ.start
    if not isinstance(start, datetime):
        text = _format_all_day(start, occ.end)
    else:
        zone = _zone(occ.timezone)
        local_start = start.astimezone(zone or UTC)
        label = occ.timezone if zone is not None else "UTC"
        text = f"{_day(local_start.date())} {local_start:%H:%M}"
        end = occ.end
        if isinstance(end, datetime):
            local_end = end.astimezone(zone or UTC)
            if local_end.date() == local_start.date():
                text += f"–{local_end:%H:%M}"
            else:
                text += f" – {_day(local_end.date())} {local_end:%H:%M}"
        text += f" ({label})"
    if occ.timezone_assumed:
        text += " (time zone assumed)"
    return text


def _short(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_CHANGE_TEXT:
        return text
    return text[: MAX_CHANGE_TEXT - 1].rstrip() + "…"


def _status(occ: Occurrence) -> str:
    return occ.status.strip().lower() or "scheduled"


def _texts(occ: Occurrence) -> dict[str, str]:
    """Display strings of the text fields, in the order a change list shows them."""
    return {
        "title": occ.title.strip(),
        "summary": occ.summary.strip(),
        "speaker": occ.seminar.speaker.strip(),
        "affiliation": occ.seminar.affiliation.strip(),
        "series": occ.seminar.series.strip(),
        "place": occ.place.strip(),
        "abstract": occ.seminar.abstract.strip(),
        "bio": occ.seminar.bio.strip(),
        "video": occ.seminar.video.strip(),
        "description": occ.description.strip(),
        "url": occ.url.strip(),
        "categories": ", ".join(_canonical(occ.categories)),
    }


#: Fields whose change already explains a changed DESCRIPTION (seminar text lives in it).
_DESCRIPTION_PARTS: Final = frozenset(
    {"title", "summary", "speaker", "affiliation", "series", "place", "abstract", "bio", "video"}
)


def same_source(old: Occurrence, new: Occurrence) -> bool:
    """True when the producer's own fields are unchanged and only our reading of them differs
    (a newer parser found a speaker or cleaned a room): nothing happened that attendees need to
    be told about."""
    before, after = canonical_fields(old), canonical_fields(new)
    return all(before[name] == after[name] for name in before if not name.startswith("seminar."))


def visible_changes(old: Occurrence, new: Occurrence) -> tuple[FieldChange, ...]:
    """What a reader would notice, old → new, most important first.

    SUMMARY is only listed when the displayed title did not change (e.g. a "CANCELLED--" prefix on
    a recognised seminar title), and the raw DESCRIPTION only when no field parsed out of it did.
    """
    changes: list[FieldChange] = []
    if (
        time_moved(old, new)
        or canonical_fields(old)["timezone"] != canonical_fields(new)["timezone"]
        or old.timezone_assumed != new.timezone_assumed
    ):
        before, after = format_when(old), format_when(new)
        if before == after:  # sub-minute moves: show the exact instants instead
            before = f"{instant_to_json(old.start)} – {instant_to_json(old.end) or ''}"
            after = f"{instant_to_json(new.start)} – {instant_to_json(new.end) or ''}"
        changes.append(FieldChange("time", before, after))
    if _status(old) != _status(new):
        changes.append(FieldChange("status", _status(old), _status(new)))
    before_texts, after_texts = _texts(old), _texts(new)
    changed = {name for name in before_texts if before_texts[name] != after_texts[name]}
    if "title" in changed:
        changed.discard("summary")
    if changed & _DESCRIPTION_PARTS:
        changed.discard("description")
    for name in before_texts:
        if name in changed:
            changes.append(FieldChange(name, _short(before_texts[name]), _short(after_texts[name])))
    return tuple(changes)
