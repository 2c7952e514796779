"""Plain data shared by every layer: occurrences, parse results and diff actions.

Everything here is immutable and round-trips through JSON-compatible dicts, because parsed
occurrences cross a process boundary (the parser runs in a child process) and are stored in
SQLite as JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any

from bot.core import sharing

#: An aware UTC datetime for timed events, or a calendar date for all-day events.
Instant = datetime | date


def instant_to_json(value: Instant | None) -> str | None:
    """ISO-8601; a date stays a bare ``YYYY-MM-DD`` so all-day events never become midnights."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timed instants must be aware")
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def instant_from_json(value: str | None) -> Instant | None:
    if value is None:
        return None
    if len(value) == 10:
        return date.fromisoformat(value)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timed instant without offset: {value!r}")
    return parsed.astimezone(UTC)


def is_all_day(value: Instant) -> bool:
    return not isinstance(value, datetime)


def sort_key(value: Instant) -> datetime:
    """A comparable UTC datetime for any instant (an all-day date sorts at its UTC midnight)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True, order=True)
class OccurrenceKey:
    """Identity of one occurrence inside a feed: UID plus RECURRENCE-ID.

    ``recurrence_id`` is ``""`` for a non-recurring event, otherwise the normalised original
    start (``YYYYMMDDTHHMMSSZ`` in UTC, or ``YYYYMMDD`` for dates).
    """

    uid: str
    recurrence_id: str = ""

    def to_string(self) -> str:
        # '#' never occurs in a normalised recurrence id, so rpartition always splits right.
        return f"{self.uid}#{self.recurrence_id}"

    @classmethod
    def from_string(cls, text: str) -> OccurrenceKey:
        uid, sep, rid = text.rpartition("#")
        if not sep:
            raise ValueError(f"not an occurrence key: {text!r}")
        return cls(uid, rid)


@dataclass(frozen=True, slots=True)
class SeminarDetails:
    """Fields recovered from seminar-style SUMMARY/DESCRIPTION text (empty when unknown).

    ``speaker`` is the display string ("A and B"); ``speakers`` holds each name on its own so
    search and subscriptions can match one of several speakers. ``online_url`` is the join link
    of an online talk. ``rules`` says, per field name, which extraction rule found it (so a
    preview can explain a reading and a wrong rule can be traced).
    """

    series: str = ""
    speaker: str = ""
    affiliation: str = ""
    title: str = ""
    location: str = ""
    abstract: str = ""
    bio: str = ""
    video: str = ""
    speakers: tuple[str, ...] = ()
    online_url: str = ""
    rules: tuple[tuple[str, str], ...] = ()

    def rule_for(self, field_name: str) -> str:
        """The id of the rule that found ``field_name``, "" when none is recorded."""
        for name, rule in self.rules:
            if name == field_name:
                return rule
        return ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        # The names, not ``fields(self)``: that rebuilds a tuple per call, and every poll
        # encodes each changed occurrence twice (the event row and the parse cache).
        for name in _SEMINAR_FIELDS:
            value = getattr(self, name)
            if not value:
                continue
            if name == "speakers":
                data[name] = list(value)
            elif name == "rules":
                data[name] = dict(value)
            else:
                data[name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeminarDetails:
        """Reads rows written before ``speakers``/``online_url``/``rules`` existed too."""
        text_fields = {
            f.name: str(data.get(f.name, ""))
            for f in fields(cls)
            if f.name not in ("speakers", "rules")
        }
        raw_speakers = data.get("speakers") or ()
        raw_rules = data.get("rules") or {}
        rules = raw_rules.items() if isinstance(raw_rules, dict) else raw_rules
        return _seminar(
            text_fields["series"],
            text_fields["speaker"],
            text_fields["affiliation"],
            text_fields["title"],
            text_fields["location"],
            text_fields["abstract"],
            text_fields["bio"],
            text_fields["video"],
            tuple(str(name) for name in raw_speakers),
            text_fields["online_url"],
            tuple((str(name), str(rule)) for name, rule in rules),
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its fields and rebuilt by :func:`_seminar`, which shares repeated
        values: parse results cross from the parser process this way."""
        return _seminar, (
            self.series,
            self.speaker,
            self.affiliation,
            self.title,
            self.location,
            self.abstract,
            self.bio,
            self.video,
            self.speakers,
            self.online_url,
            self.rules,
        )


#: Field names of :class:`SeminarDetails`, in declaration order.
_SEMINAR_FIELDS = tuple(f.name for f in fields(SeminarDetails))


_NO_SEMINAR = SeminarDetails()


def _seminar(
    series: str,
    speaker: str,
    affiliation: str,
    title: str,
    location: str,
    abstract: str,
    bio: str,
    video: str,
    speakers: tuple[str, ...],
    online_url: str,
    rules: tuple[tuple[str, str], ...],
) -> SeminarDetails:
    """A SeminarDetails whose often repeated parts (series, affiliation, room, rule table) are
    the process's shared copies; the one empty value is shared whole."""
    texts = (series, speaker, affiliation, title, location, abstract, bio, video, online_url)
    if not (any(texts) or speakers or rules):
        return _NO_SEMINAR
    return SeminarDetails(
        sharing.text(series),
        sharing.text(speaker),
        sharing.text(affiliation),
        title,
        sharing.text(location),
        abstract,
        bio,
        sharing.text(video),
        tuple(sharing.text(name) for name in speakers),
        online_url,
        sharing.strings(rules),
    )


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One instance of an event as people will see it, normalised and length-capped."""

    key: OccurrenceKey
    start: Instant
    end: Instant | None = None
    #: IANA zone the producer meant (for display), "" when unknown/UTC.
    timezone: str = ""
    #: True when the zone was guessed (floating time, unknown TZID): the post says so.
    timezone_assumed: bool = False
    summary: str = ""
    description: str = ""
    location: str = ""
    url: str = ""
    #: Upper-case STATUS value, "" when absent.
    status: str = ""
    categories: tuple[str, ...] = ()
    last_modified: datetime | None = None
    sequence: int = 0
    seminar: SeminarDetails = field(default_factory=SeminarDetails)

    @property
    def all_day(self) -> bool:
        return is_all_day(self.start)

    @property
    def cancelled(self) -> bool:
        return self.status == "CANCELLED"

    @property
    def title(self) -> str:
        """What a reader calls the talk: the seminar title if recognised, else SUMMARY."""
        return self.seminar.title or self.summary or "(untitled event)"

    @property
    def place(self) -> str:
        """The room: read from the text when LOCATION is empty or needed cleaning (e.g.
        "Lecture held in MR2", "Room 5; Microsoft Teams Meeting"), else LOCATION itself."""
        return self.seminar.location or self.location

    @property
    def place_as_first_read(self) -> str:
        """The place the first release read from this same text (LOCATION, else the room heading
        of The Events Calendar's body). Reminder rows stored then hold this value, so a
        subscriber is told "moved" only when it differs too, never for a better reading."""
        if self.location:
            return self.location
        if self.seminar.rule_for("location") in ("", "tec.description.sections"):
            return self.seminar.location
        return ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "uid": self.key.uid,
            "recurrence_id": self.key.recurrence_id,
            "start": instant_to_json(self.start),
            "end": instant_to_json(self.end),
        }
        for name in ("timezone", "summary", "description", "location", "url", "status"):
            value = getattr(self, name)
            if value:
                data[name] = value
        if self.timezone_assumed:
            data["timezone_assumed"] = True
        if self.categories:
            data["categories"] = list(self.categories)
        if self.last_modified is not None:
            data["last_modified"] = instant_to_json(self.last_modified)
        if self.sequence:
            data["sequence"] = self.sequence
        seminar = self.seminar.to_dict()
        if seminar:
            data["seminar"] = seminar
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Occurrence:
        start = instant_from_json(data["start"])
        if start is None:
            raise ValueError("occurrence without start")
        last_modified = instant_from_json(data.get("last_modified"))
        return _occurrence(
            str(data["uid"]),
            str(data.get("recurrence_id", "")),
            start,
            instant_from_json(data.get("end")),
            str(data.get("timezone", "")),
            bool(data.get("timezone_assumed", False)),
            str(data.get("summary", "")),
            str(data.get("description", "")),
            str(data.get("location", "")),
            str(data.get("url", "")),
            str(data.get("status", "")),
            tuple(str(c) for c in data.get("categories", ())),
            last_modified if isinstance(last_modified, datetime) else None,
            int(data.get("sequence", 0)),
            SeminarDetails.from_dict(data.get("seminar", {})),
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its fields and rebuilt by :func:`_occurrence`, which shares repeated
        values: a large feed's occurrences cross from the parser process this way."""
        return _occurrence, (
            self.key.uid,
            self.key.recurrence_id,
            self.start,
            self.end,
            self.timezone,
            self.timezone_assumed,
            self.summary,
            self.description,
            self.location,
            self.url,
            self.status,
            self.categories,
            self.last_modified,
            self.sequence,
            self.seminar,
        )

    def with_changes(self, **changes: Any) -> Occurrence:
        return replace(self, **changes)


def _occurrence(
    uid: str,
    recurrence_id: str,
    start: Instant,
    end: Instant | None,
    timezone: str,
    timezone_assumed: bool,
    summary: str,
    description: str,
    location: str,
    url: str,
    status: str,
    categories: tuple[str, ...],
    last_modified: datetime | None,
    sequence: int,
    seminar: SeminarDetails,
) -> Occurrence:
    """An Occurrence whose often repeated parts (zone, status, room, categories, a bulk
    LAST-MODIFIED) are the process's shared copies: equal values, fewer objects."""
    return Occurrence(
        OccurrenceKey(uid, recurrence_id),
        start,
        end,
        sharing.text(timezone),
        timezone_assumed,
        summary,
        description,
        sharing.text(location),
        url,
        sharing.text(status),
        sharing.strings(tuple(sharing.text(c) for c in categories)),
        sharing.moment(last_modified),
        sequence,
        seminar,
    )


@dataclass(frozen=True, slots=True)
class SkippedEvent:
    """An event (or some of its occurrences) left out of a parse, with why; counted and shown
    in feed health."""

    uid: str
    reason: str
    #: How many things were left out: 1 for an event, the surplus for occurrences over the
    #: per-event budget.
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"uid": self.uid, "reason": self.reason}
        if self.count != 1:
            data["count"] = self.count
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SkippedEvent:
        return cls(str(data.get("uid", "")), str(data.get("reason", "")), int(data.get("count", 1)))


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """Everything a successful parse yields for one feed body inside one window."""

    occurrences: tuple[Occurrence, ...]
    window_start: datetime
    window_end: datetime
    calendar_name: str = ""
    calendar_timezone: str = ""
    producer: str = ""
    skipped: tuple[SkippedEvent, ...] = ()
    #: How many VEVENT components the body held (before expansion and skipping).
    event_count: int = 0

    @property
    def skipped_total(self) -> int:
        """Events skipped plus occurrences left out over the per-event budget."""
        return sum(s.count for s in self.skipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "occurrences": [o.to_dict() for o in self.occurrences],
            "window_start": instant_to_json(self.window_start),
            "window_end": instant_to_json(self.window_end),
            "calendar_name": self.calendar_name,
            "calendar_timezone": self.calendar_timezone,
            "producer": self.producer,
            "skipped": [s.to_dict() for s in self.skipped],
            "event_count": self.event_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParsedFeed:
        window_start = instant_from_json(data["window_start"])
        window_end = instant_from_json(data["window_end"])
        if not isinstance(window_start, datetime) or not isinstance(window_end, datetime):
            raise ValueError("parse window must be timed instants")
        return cls(
            occurrences=tuple(Occurrence.from_dict(o) for o in data.get("occurrences", ())),
            window_start=window_start,
            window_end=window_end,
            calendar_name=str(data.get("calendar_name", "")),
            calendar_timezone=str(data.get("calendar_timezone", "")),
            producer=str(data.get("producer", "")),
            skipped=tuple(SkippedEvent.from_dict(s) for s in data.get("skipped", ())),
            event_count=int(data.get("event_count", 0)),
        )


class ActionKind(enum.StrEnum):
    ANNOUNCE = "announce"
    UPDATE = "update"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One visible field that changed, old → new, as display strings."""

    field: str
    old: str
    new: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "old": self.old, "new": self.new}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldChange:
        return cls(str(data["field"]), str(data.get("old", "")), str(data.get("new", "")))


@dataclass(frozen=True, slots=True)
class Action:
    """Something the bot must do in Discord because of a diff.

    ``occurrence`` is the event as it is now; ``previous`` the state last announced (for
    update/reschedule/cancel). ``previous_key`` is set when a reschedule changed the identity
    (The Events Calendar puts the start time in the UID), so delivery can find the message.
    """

    kind: ActionKind
    feed: str
    occurrence: Occurrence
    previous: Occurrence | None = None
    changes: tuple[FieldChange, ...] = ()
    previous_key: OccurrenceKey | None = None

    @property
    def key(self) -> OccurrenceKey:
        return self.occurrence.key

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind.value,
            "feed": self.feed,
            "occurrence": self.occurrence.to_dict(),
        }
        if self.previous is not None:
            data["previous"] = self.previous.to_dict()
        if self.changes:
            data["changes"] = [c.to_dict() for c in self.changes]
        if self.previous_key is not None:
            data["previous_key"] = self.previous_key.to_string()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        previous = data.get("previous")
        previous_key = data.get("previous_key")
        return cls(
            kind=ActionKind(data["kind"]),
            feed=str(data["feed"]),
            occurrence=Occurrence.from_dict(data["occurrence"]),
            previous=Occurrence.from_dict(previous) if previous else None,
            changes=tuple(FieldChange.from_dict(c) for c in data.get("changes", ())),
            previous_key=OccurrenceKey.from_string(previous_key) if previous_key else None,
        )
