"""What an announcement says, decided once for every medium (Discord embed, dry-run text, JSON).

A ``Card`` is a medium-neutral announcement: the Discord edge turns it into an embed, the CLI
prints it. Only *how a time is written* differs between media (Discord shows ``<t:…>``
timestamps in each reader's own zone; the terminal shows the feed's zone), so that is injected
as a ``TimeFormatter``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.models import Action, ActionKind, Occurrence
from bot.core.templates import CardTemplates

# Discord's embed limits (docs/discord-protocol.md, Limits), kept here so cards never overflow.
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
#: The abstract in ``/seminars show``, where the reader asked for the whole talk.
ABSTRACT_LIMIT = 1000
#: The abstract on a channel card: a few lines on a phone; the event link has the rest.
TEASER_LIMIT = 360

COLOURS = {
    ActionKind.ANNOUNCE: 0x2B6CB0,
    ActionKind.UPDATE: 0x2B6CB0,
    ActionKind.RESCHEDULE: 0xDD6B20,
    ActionKind.CANCEL: 0x9B2C2C,
}

TimeFormatter = Callable[[Occurrence], str]


def truncate(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s)")


def trim_to_sentence(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after the last whole sentence that fits.

    A first sentence longer than the limit is cut at a word instead (with an ellipsis), so a
    card never ends mid-word and never shows nothing when the feed has an abstract.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= limit]
    if ends and ends[-1] >= limit // 3:
        return head[: ends[-1]]
    cut = head[:limit].rsplit(" ", 1)[0] if " " in head[:limit] else head[: limit - 1]
    return cut.rstrip(",;:–- ") + "…"


@dataclass(frozen=True)
class Card:
    title: str
    description: str
    fields: tuple[tuple[str, str], ...]
    url: str
    footer: str
    colour: int
    #: Short text outside the card, only for changes that matter to attendees.
    headline: str = ""
    #: True when the abstract was shortened: the reader should follow ``url`` for the rest.
    abridged: bool = False

    def total_length(self) -> int:
        return (
            len(self.title)
            + len(self.description)
            + sum(len(n) + len(v) for n, v in self.fields)
            + len(self.footer)
        )


def zone_of(occurrence: Occurrence, fallback: str = "UTC") -> ZoneInfo:
    for name in (occurrence.timezone, fallback, "UTC"):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def format_when_local(occurrence: Occurrence, fallback_zone: str = "UTC") -> str:
    """A time written in the feed's own zone, e.g. ``Tue 5 Nov 2019, 10:45–11:45 EST``."""
    start, end = occurrence.start, occurrence.end
    if not isinstance(start, datetime):
        return _format_dates(start, end if isinstance(end, date) else None)
    zone = zone_of(occurrence, fallback_zone)
    local_start = start.astimezone(zone)
    text = f"{local_start:%a} {local_start.day} {local_start:%b %Y, %H:%M}"
    if isinstance(end, datetime) and end > start:
        local_end = end.astimezone(zone)
        if local_end.date() == local_start.date():
            text += f"–{local_end:%H:%M}"
        else:
            text += f" – {local_end:%a} {local_end.day} {local_end:%b %Y, %H:%M}"
    text += f" {local_start.tzname()}"
    if zone.key not in ("UTC", "Etc/UTC"):
        text += f" ({zone.key})"
    if occurrence.timezone_assumed:
        text += " (time zone assumed)"
    return text


def _format_dates(start: date, end: date | None) -> str:
    text = f"{start:%a} {start.day} {start:%b %Y}"
    # iCalendar all-day ends are exclusive: a one-day event ends the next day.
    if end is not None and end - start > timedelta(days=1):
        last = end - timedelta(days=1)
        text += f" – {last:%a} {last.day} {last:%b %Y}"
    return text + " (all day)"


def speakers_of(occurrence: Occurrence) -> tuple[str, ...]:
    """Every speaker found, in order; the single ``speaker`` field when no list was found."""
    seminar = occurrence.seminar
    listed = tuple(s for s in seminar.speakers if s)
    if listed:
        return listed
    return (seminar.speaker,) if seminar.speaker else ()


def speaker_names(occurrence: Occurrence) -> str:
    """``A``, ``A and B``, ``A, B and C``, or "" when no speaker was found."""
    names = speakers_of(occurrence)
    if len(names) <= 1:
        return names[0] if names else ""
    return ", ".join(names[:-1]) + " and " + names[-1]


def speaker_line(occurrence: Occurrence) -> str:
    """``Name (Affiliation)`` for running text (lists, calendar entries), or ""."""
    who, affiliation = speaker_names(occurrence), occurrence.seminar.affiliation
    return f"{who} ({affiliation})" if who and affiliation else who


def byline(occurrence: Occurrence) -> str:
    """``Name · Affiliation``, the card's speaker line, or "" when no speaker was found."""
    who, affiliation = speaker_names(occurrence), occurrence.seminar.affiliation
    return f"{who} · {affiliation}" if who and affiliation else who


def online_url_of(occurrence: Occurrence) -> str:
    """The join link of an online talk, when one was found."""
    url = occurrence.seminar.online_url
    return url if url.startswith(("https://", "http://")) else ""


def where_text(occurrence: Occurrence) -> str:
    """The room, or the join link of an online talk (both when a hybrid talk has both)."""
    place, join = occurrence.place, online_url_of(occurrence)
    if not join:
        return place
    # The place may be the link itself (escaped for Discord): then the clean link alone.
    if not place or place.replace("\\", "").strip() == join:
        return join
    if join in place.replace("\\", ""):
        return place
    return f"{place}\nJoin online: {join}"


def template_values(occurrence: Occurrence, feed: str, zone: str = "UTC") -> dict[str, str]:
    """The values of the template fields (``bot.core.templates.FIELDS``) for one event."""
    seminar = occurrence.seminar
    start = occurrence.start
    if isinstance(start, datetime):
        local = start.astimezone(zone_of(occurrence, zone))
        day, time = f"{local:%a} {local.day} {local:%b}", f"{local:%H:%M}"
    else:
        day, time = f"{start:%a} {start.day} {start:%b}", ""
    return {
        "title": occurrence.title,
        "speaker": speaker_names(occurrence),
        "affiliation": seminar.affiliation,
        "series": seminar.series,
        "place": where_text(occurrence),
        "date": day,
        "time": time,
        "feed": feed,
    }


def build_card(
    action: Action,
    when: TimeFormatter,
    was: TimeFormatter | None = None,
    *,
    full: bool = False,
    templates: CardTemplates | None = None,
    zone: str = "UTC",
) -> Card:
    """The announcement for an action, within Discord's limits, whatever the feed text.

    A channel card is short enough to read on a phone: a few lines of abstract, no bio.
    ``full`` is the card a member asked for (``/seminars show``): the long abstract and the
    bio. ``was`` writes the old time of a rescheduled event (default: like ``when``).
    ``templates`` are the feed's title and lead line templates (``zone`` writes their date
    and time); without them the title is the event's title and there is no lead line.
    """
    occ = action.occurrence
    seminar = occ.seminar
    prefix = {
        ActionKind.ANNOUNCE: "",
        ActionKind.UPDATE: "",
        ActionKind.RESCHEDULE: "Rescheduled: ",
        ActionKind.CANCEL: "❌ Cancelled: ",
    }[action.kind]
    values = template_values(occ, action.feed, zone) if templates is not None else {}
    title_line = templates.render_title(values, occ.title) if templates else occ.title
    title = truncate(prefix + title_line, TITLE_LIMIT)

    fields: list[tuple[str, str]] = []
    speaker = byline(occ)
    if speaker:
        fields.append(("Speaker", truncate(speaker, FIELD_VALUE_LIMIT)))
    cancelled = action.kind is ActionKind.CANCEL
    # No countdown to a talk that will not happen.
    when_text = (was or when)(occ) if cancelled else when(occ)
    if action.kind is ActionKind.RESCHEDULE and action.previous is not None:
        when_text = f"{when_text}\n(was {(was or when)(action.previous)})"
    fields.append(("When", truncate(when_text, FIELD_VALUE_LIMIT)))
    where = where_text(occ)
    if where:
        fields.append(("Where", truncate(where, FIELD_VALUE_LIMIT)))
    if full and seminar.bio and not cancelled:
        fields.append(("Bio", truncate(seminar.bio, FIELD_VALUE_LIMIT)))

    if seminar.abstract:
        abstract = seminar.abstract
    elif not seminar.title:
        abstract = occ.description
    else:
        abstract = ""
    if full:
        description = truncate(abstract, ABSTRACT_LIMIT)
    else:
        description = trim_to_sentence(abstract, TEASER_LIMIT)
    abridged = " ".join(abstract.split()) != description
    if cancelled:
        # At a glance: the title says so; the abstract of a talk that will not happen is noise.
        description, abridged = "**This event has been cancelled.**", False
    lead = templates.render_lead(values) if templates else ""
    if lead:
        description = f"{lead}\n\n{description}" if description else lead

    footer_parts = [seminar.series] if seminar.series else []
    footer_parts.append(action.feed)
    card = Card(
        title=title,
        description=description,
        fields=tuple(fields),
        url=occ.url,
        footer=truncate(" · ".join(p for p in footer_parts if p), FOOTER_LIMIT),
        colour=COLOURS[action.kind],
        headline=headline(action, when),
        abridged=abridged,
    )
    return _fit(card)


def _fit(card: Card) -> Card:
    """Shrink the description, then the bio, until the whole card fits Discord's 6,000 cap."""
    while card.total_length() > EMBED_TOTAL_LIMIT and len(card.description) > 200:
        card = replace(card, description=truncate(card.description, len(card.description) // 2))
    if card.total_length() > EMBED_TOTAL_LIMIT:
        card = replace(card, fields=tuple(f for f in card.fields if f[0] != "Bio"))
    return card


def headline(action: Action, when: TimeFormatter) -> str:
    """The one follow-up line worth a notification: time, place or cancellation changed."""
    occ = action.occurrence
    if action.kind is ActionKind.CANCEL:
        return f"Cancelled: {occ.title} ({when(occ)})"
    if action.kind is ActionKind.RESCHEDULE:
        return f"Rescheduled: {occ.title} is now {when(occ)}"
    if action.kind is ActionKind.UPDATE:
        places = [c for c in action.changes if c.field == "place"]
        if places:
            return f"Room change: {occ.title} is now in {places[0].new or 'an unannounced place'}"
    return ""


def format_iso(occurrence_start: datetime | date, zone: ZoneInfo) -> str:
    """ISO-8601 with the feed's offset for timed events, a bare date for all-day ones."""
    if isinstance(occurrence_start, datetime):
        return occurrence_start.astimezone(zone).isoformat()
    return occurrence_start.isoformat()


def card_as_text(action: Action, card: Card) -> str:
    """The dry-run view of a card: what members would read, in plain text."""
    label = action.kind.value.upper()
    lines = [f"{label}  {card.title}"]
    if card.headline and action.kind is not ActionKind.ANNOUNCE:
        lines.append(f"  >> {card.headline}")
    width = max((len(name) for name, _ in card.fields), default=0) + 1
    for name, value in card.fields:
        if name == "Bio":
            continue
        lines.append(f"  {name + ':':<{width}} {_indent(value, width + 3)}")
    if card.url:
        lines.append(f"  {'Link:':<{width}} {card.url}")
    for change in action.changes:
        old, new = change.old or "(none)", change.new or "(none)"
        lines.append(f"  changed {change.field}: {old} -> {new}")
    if card.description:
        lines.append("")
        lines.append("  " + _indent(truncate(card.description, 400), 2))
    if card.footer:
        lines.append(f"  [{card.footer}]")
    return "\n".join(lines)


def _indent(text: str, width: int) -> str:
    return text.replace("\n", "\n" + " " * width)


#: Where a field came from when no seminar rule found it: the raw iCalendar property.
RAW_SUMMARY_RULE = "ical:SUMMARY"
RAW_LOCATION_RULE = "ical:LOCATION"


def understood(occurrence: Occurrence) -> tuple[tuple[str, str, str], ...]:
    """What the bot read from an event: (field, value, rule that found it), found ones only.

    A title or place that no seminar rule recognised falls back to the raw SUMMARY or
    LOCATION, and says so, so a preview explains exactly why a card looks as it does.
    """
    seminar = occurrence.seminar
    found: list[tuple[str, str, str]] = []

    def add(name: str, value: str, rule: str) -> None:
        if value:
            found.append((name, value, rule))

    speaker_rule = seminar.rule_for("speakers") or seminar.rule_for("speaker")
    add("speakers", speaker_names(occurrence), speaker_rule)
    add("affiliation", seminar.affiliation, seminar.rule_for("affiliation"))
    if seminar.title:
        add("title", seminar.title, seminar.rule_for("title"))
    else:
        add("title", occurrence.title, RAW_SUMMARY_RULE)
    add("series", seminar.series, seminar.rule_for("series"))
    # The same choice as ``Occurrence.place``: the room read from the text, else LOCATION.
    if seminar.location:
        add("location", seminar.location, seminar.rule_for("location"))
    else:
        add("location", occurrence.location, RAW_LOCATION_RULE)
    add("online_url", seminar.online_url, seminar.rule_for("online_url"))
    return tuple(found)


def understood_as_text(occurrence: Occurrence) -> str:
    """One preview line: which fields were found and by which rule; what is missing."""
    found = understood(occurrence)
    names = {name for name, _, _ in found}
    groups: list[tuple[str, list[str]]] = []  # fields read by one rule, named together
    for name, _, rule in found:
        if groups and groups[-1][0] == rule:
            groups[-1][1].append(name)
        else:
            groups.append((rule, [name]))
    parts = [", ".join(n) + (f" [{rule}]" if rule else "") for rule, n in groups]
    expected = ("speakers", "affiliation", "series", "location", "online_url")
    missing = [name for name in expected if name not in names]
    text = "  Read:    " + ("; ".join(parts) or "nothing")
    if missing:
        text += f"\n  Missing: {', '.join(missing)}"
    return text


def action_as_json(action: Action, fallback_zone: str = "UTC") -> dict[str, object]:
    """One machine-readable line per action for ``preview --json``."""
    occ = action.occurrence
    zone = zone_of(occ, fallback_zone)
    data: dict[str, object] = {
        "action": action.kind.value,
        "feed": action.feed,
        "uid": occ.key.uid,
        "recurrence_id": occ.key.recurrence_id,
        "title": occ.title,
        "start": format_iso(occ.start, zone),
        "end": format_iso(occ.end, zone) if occ.end is not None else None,
        "all_day": occ.all_day,
        "timezone": zone.key,
        "timezone_assumed": occ.timezone_assumed,
        "location": occ.place,
        "url": occ.url,
        "series": occ.seminar.series,
        "speaker": occ.seminar.speaker,
        "speakers": list(speakers_of(occ)),
        "affiliation": occ.seminar.affiliation,
        "online_url": online_url_of(occ),
        "status": occ.status,
        "rules": {name: rule for name, _, rule in understood(occ)},
    }
    if action.previous is not None:
        prev = action.previous
        data["old"] = {
            "uid": prev.key.uid,
            "title": prev.title,
            "start": format_iso(prev.start, zone),
            "end": format_iso(prev.end, zone) if prev.end is not None else None,
            "location": prev.place,
        }
        data["new"] = {
            "uid": occ.key.uid,
            "title": occ.title,
            "start": data["start"],
            "end": data["end"],
            "location": occ.place,
        }
    if action.changes:
        data["changes"] = [c.to_dict() for c in action.changes]
    return data
