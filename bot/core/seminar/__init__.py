"""Recover speaker, affiliation, title, series and place from a talk's calendar text.

Departments write talks in many house styles; each style is a small rule with an id, and every
field records the rule that found it. Order of trust: the feed's own pattern (set by an
operator), labelled lines in the description (``Speaker:``, ``Titel:``), the SUMMARY layouts,
then prose cues ("by X as part of Y", a name alone under the title). A rule that is unsure
leaves its field empty, and an event that is not a talk (meeting, holiday) never gets a speaker.
"""

from __future__ import annotations

import re

from bot.core.models import SeminarDetails
from bot.core.seminar.feed_pattern import FeedPattern
from bot.core.seminar.feed_pattern import apply as apply_pattern
from bot.core.seminar.glued import parse_description
from bot.core.seminar.labels import Labelled, all_values, find_labels, first_value
from bot.core.seminar.names import (
    Person,
    display_names,
    joint_affiliation,
    parse_people,
)
from bot.core.seminar.nontalk import is_not_a_talk
from bot.core.seminar.online import is_meeting_link, location_is_only_a_link, meeting_links
from bot.core.seminar.summary import (
    SummaryReading,
    clean_title,
    is_series_label,
    is_series_name,
    read_summary,
    read_summary_without_people,
    without_status_prefix,
)
from bot.core.text import html_to_text

__all__ = [
    "FeedPattern",
    "extract_seminar",
    "parse_description",
]

_HELD_IN = re.compile(
    r"^(?:lecture|talk|seminar)?\s*(?:held|takes place)\s+(?:in|at)\s+(?P<room>.+?)\.?$",
    re.IGNORECASE,
)
_HELD_IN_LINE = re.compile(
    r"^[ \t]*(?:lecture|talk|seminar)\s+held\s+in\s+(?P<room>[^\n]{1,80}?)\.?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_MEETING_WORDS = re.compile(
    r"\s*[;,/|]?\s*(?:microsoft teams(?: meeting)?|teams meeting|zoom(?: meeting)?|"
    r"google meet|webex(?: meeting)?|online|virtual)\s*$",
    re.IGNORECASE,
)
_BY_AS_PART_OF = re.compile(
    r"^(?:(?:a |the )?(?:talk|lecture|seminar|vortrag|exposé|conférence|charla|ponencia)\s+)?"
    r"(?:by|presented by|given by|featuring|von|par|de|présenté par|por|presentado por)\s+"
    r"(?P<who>.+?)(?:\s+as part of\s+(?P<series>.+?))?\s*\.?$",
    re.IGNORECASE | re.MULTILINE,
)
_PART_OF_SERIES = re.compile(
    r"^this (?:talk|event|seminar|lecture) is part of (?:the )?(?P<series>.+?)(?: series)?\.?$",
    re.IGNORECASE | re.MULTILINE,
)
#: Lines that end an abstract: a group's standing "About …" paragraph follows it.
_ABOUT = re.compile(r"\n[ \t]*About (?:the |our )?[^\n.]{3,80}\n", re.IGNORECASE)
_MAX_FIRST_LINE = 160
#: Words that say the event is a talk, so a name in its text is probably its speaker.
_TALK_CUES = re.compile(
    r"\b(?:abstract|speakers?|talk|lecture|seminar|colloquium|presentation|keynote|"
    r"will (?:present|speak|discuss|talk)|as part of|defen[cs]e|webinar|"
    r"vortrag|kolloquium|zusammenfassung|séminaire|exposé|conférence|résumé|"
    r"charla|ponencia|conferencia|seminario|resumen|coloquio)\b",
    re.IGNORECASE,
)
#: Summary rules whose own structure (a series label plus a who-part) is evidence enough.
_STRUCTURED_RULES = frozenset(
    {
        "tec.summary.series_name_aff_title",
        "summary.series_who_title",
        "summary.series_title_who",
        "summary.series_paren_who",
        "summary.series_who_title_dashes",
    }
)


def _talk_context(summary: str, text: str, labelled: list[Labelled]) -> bool:
    if any(item.field in ("speaker", "title", "abstract") for item in labelled):
        return True
    return _TALK_CUES.search(summary) is not None or _TALK_CUES.search(text[:3000]) is not None


def _convincing(rule: str, people: tuple[Person, ...], context: bool, text: str) -> bool:
    """Names alone are weak ("Phone Free Fun", "Hush Hush"): ask for more evidence."""
    if rule in _STRUCTURED_RULES or any(p.honorific for p in people):
        return True
    if rule == "summary.who":  # a bare "Name (Affiliation)" must be echoed by the body
        return context and all(p.name.split()[-1].casefold() in text.casefold() for p in people)
    if rule in ("summary.title_paren_who", "summary.title_dash_who") and all(
        p.comma for p in people
    ):
        return True
    if rule == "summary.names_emdash_title" or (
        rule == "summary.who_dash_title" and len(people) >= 2
    ):
        return True
    if rule == "summary.who_colon_title" and all(p.affiliation and not p.comma for p in people):
        return True  # "Name (Affiliation): Title"
    return context


class _Fields:
    """Field values with the rule that set each; the first rule to set a field wins."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.rules: dict[str, str] = {}
        self.people: tuple[Person, ...] = ()

    def set(self, name: str, value: str, rule: str) -> None:
        value = value.strip()
        if value and name not in self.values:
            self.values[name] = value
            self.rules[name] = rule

    def set_people(self, people: tuple[Person, ...] | list[Person], rule: str) -> None:
        if people and not self.people:
            self.people = tuple(people)
            self.set("speaker", display_names(list(people)), rule)
            self.set("affiliation", joint_affiliation(list(people)), rule)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _from_pattern(found: _Fields, pattern: FeedPattern, summary: str, text: str) -> None:
    for source, regex in ((summary, pattern.summary), (text, pattern.description)):
        groups = apply_pattern(regex, source)
        if "speaker" in groups:
            people = parse_people(groups["speaker"]) or [Person(groups["speaker"])]
            if "affiliation" in groups:
                people = [Person(p.name, groups["affiliation"]) for p in people]
            found.set_people(people, "feed.pattern")
        for name in ("affiliation", "series"):
            found.set(name, groups.get(name, ""), "feed.pattern")
        if "title" in groups:
            found.set("title", clean_title(groups["title"]), "feed.pattern")


def _from_labels(found: _Fields, labelled: list[Labelled]) -> None:
    speaker = first_value(labelled, "speaker")
    if speaker is not None:
        people = [p for item in all_values(labelled, "speaker") for p in parse_people(item.value)]
        if len(people) > 1 and not parse_people(speaker.value):
            people = []  # one unreadable "Speaker n:" line: trust none of them
        affiliation = first_value(labelled, "affiliation")
        if people and affiliation is not None and not any(p.affiliation for p in people):
            people = [Person(p.name, affiliation.value) for p in people]
        found.set_people(people, f"label.speaker.{_slug(speaker.label)}")
    title = first_value(labelled, "title")
    if title is not None:
        found.set("title", clean_title(title.value), f"label.title.{_slug(title.label)}")
    for name in ("series", "location", "abstract", "bio"):
        item = first_value(labelled, name)
        if item is not None:
            value = item.value
            if name == "abstract":
                value = _until_about(value)
            found.set(name, value, f"label.{name}.{_slug(item.label)}")


def _slug(label: str) -> str:
    return "_".join(label.lower().split())


def _until_about(text: str) -> str:
    match = _ABOUT.search("\n" + text + "\n")
    return text[: max(0, match.start() - 1)].strip() if match else text


def _from_by_line(found: _Fields, text: str, context: bool) -> None:
    """``by Name (Affiliation) as part of Series`` or ``Presented by Dr Name`` on its own line."""
    for match in _BY_AS_PART_OF.finditer(text[:2000]):
        people = parse_people(match.group("who"))
        if people and (context or match.group("series")):
            found.set_people(people, "desc.by_as_part_of")
            if match.group("series"):
                found.set("series", match.group("series"), "desc.by_as_part_of")
            break
    part_of = _PART_OF_SERIES.search(text)
    if part_of is not None:
        found.set("series", part_of.group("series"), "desc.part_of_series")


def _from_first_line(found: _Fields, text: str, context: bool) -> None:
    """A name with an affiliation or honorific alone on the body's first line."""
    if found.people:
        return
    first_line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    if first_line and len(first_line) <= _MAX_FIRST_LINE:
        people = parse_people(first_line)
        if (
            people
            and all(p.affiliation or p.honorific for p in people)
            and (context or all(p.honorific for p in people))
        ):
            found.set_people(people, "desc.first_line_who")


def _from_title_then_who(found: _Fields, summary: str, text: str, context: bool) -> None:
    """A SUMMARY naming only the series, the body opening with the talk title and, on the next
    line, the speaker with an affiliation or honorific."""
    if found.people or not context or not is_series_name(summary):
        return
    lines = [line.strip() for line in text.split("\n") if line.strip()][:2]
    if len(lines) < 2 or len(lines[0]) > 200 or lines[0].endswith(".") or ":" in lines[0]:
        return
    people = parse_people(lines[1]) if len(lines[1]) <= _MAX_FIRST_LINE else []
    if people and all(p.affiliation or p.honorific for p in people) and not parse_people(lines[0]):
        found.set_people(people, "desc.title_then_who")
        found.set("title", clean_title(lines[0]), "desc.title_then_who")


def _same_people(first: tuple[Person, ...], second: tuple[Person, ...]) -> bool:
    return {p.name.casefold() for p in first} == {p.name.casefold() for p in second}


def _summary_around_speaker(found: _Fields, summary: str) -> None:
    """The speaker came from the body; the SUMMARY is then the title, a series label (with the
    title in the body), or ``Series: Speaker``."""
    summary = " ".join(summary.split())
    head, sep, rest = summary.partition(": ")
    if sep and any(rest.strip().casefold() == p.name.casefold() for p in found.people):
        found.set("series", head, "summary.series_then_speaker")
        return
    if "title" in found.values or is_series_name(summary):
        if is_series_label(summary) and len(summary.split()) <= 6:
            found.set("series", summary, "summary.as_series")
        return
    labelled = read_summary_without_people(summary)
    if labelled is not None:
        found.set("series", labelled.series, labelled.rule)
        found.set("title", labelled.title, labelled.rule)
        return
    found.set("title", clean_title(without_status_prefix(summary)), "summary.as_title")


def _abstract_after_labels(found: _Fields, labelled: list[Labelled], text: str) -> None:
    """``Speaker: …`` then plain paragraphs: the text after the last one-line label is the
    abstract (unless an abstract label said otherwise)."""
    last = labelled[-1]
    if last.field in ("abstract", "bio") or "abstract" in found.values:
        return
    line_end = text.find("\n", last.start)
    if line_end < 0:
        return
    rest = _until_about(text[line_end:].strip())
    if rest and not rest.startswith(("http://", "https://", "www.")):
        found.set("abstract", rest, "desc.after_labels")


def _tec_sections(found: _Fields, text: str) -> bool:
    sections = parse_description(text)
    for name in ("location", "abstract", "bio", "video"):
        value = sections.get(name, "")
        if name == "location" and ("\n" in value or len(value) > 200):
            continue
        found.set(name, value, "tec.description.sections")
    return bool(sections)


def _place(found: _Fields, location: str, text: str) -> None:
    location = location.strip()
    links = meeting_links(location) or meeting_links(text)
    if links:
        found.set("online_url", links[0], "online.link")
    if location:
        # LOCATION is what the producer meant as the place; a room named in the body yields.
        found.values.pop("location", None)
        found.rules.pop("location", None)
        if location_is_only_a_link(location):
            return
        held_in = _HELD_IN.match(location)
        if held_in is not None:
            found.set("location", held_in.group("room"), "location.held_in")
            return
        stripped = _MEETING_WORDS.sub("", location).strip(" ;,")
        if stripped != location:
            found.set("location", stripped or found.get("online_url"), "location.meeting_named")
        return
    if "location" in found.values and (
        "\n" in found.values["location"] or len(found.values["location"]) > 200
    ):
        del found.values["location"]
        del found.rules["location"]
    held_in = _HELD_IN_LINE.search(text)
    if held_in is not None:  # "Lecture held in ROOM." in a listing's body
        found.set("location", held_in.group("room"), "desc.held_in")
    if "location" in found.values and is_meeting_link(found.values["location"]):
        found.set("online_url", found.values["location"], "online.link")


_ICS_ESCAPE = re.compile(r"\\([\\;,nN])")


def _ics_unescape(value: str) -> str:
    """X- properties can reach us still escaped (``\\,``), unlike DESCRIPTION."""
    return _ICS_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _summary_reading(
    found: _Fields, summary: str, text: str, context: bool
) -> SummaryReading | None:
    """What the SUMMARY says, with names dropped when weak or contradicted by the body."""
    reading = read_summary(summary)
    if (
        reading is not None
        and reading.people
        and not _convincing(reading.rule, reading.people, context, text)
    ):
        reading = None
    if (
        reading is not None
        and reading.people
        and found.people
        and not _same_people(reading.people, found.people)
    ):
        # The body named the speaker; what the SUMMARY rule took for a name is a title.
        reading = read_summary_without_people(summary)
    return reading


def _from_summary(found: _Fields, reading: SummaryReading) -> None:
    if reading.people:
        found.set_people(reading.people, reading.rule)
    found.set("series", reading.series, reading.rule)
    if (
        reading.rule == "summary.title_paren_who"
        and found.get("title")
        and found.get("title") != reading.title
    ):
        # "Named Lecture (Speaker, Affiliation)" with the talk title in the body.
        found.set("series", reading.title, reading.rule)
    found.set("title", reading.title, reading.rule)


def extract_seminar(
    summary: str,
    description: str,
    location: str,
    *,
    html_description: str = "",
    pattern: FeedPattern | None = None,
) -> SeminarDetails:
    """Seminar fields from already-cleaned SUMMARY, DESCRIPTION and LOCATION text.

    ``html_description`` (X-ALT-DESC) is read only when DESCRIPTION is empty.
    """
    text = description.strip()
    if not text and html_description.strip():
        text = html_to_text(_ics_unescape(html_description)).replace("\xa0", " ").strip()
    found = _Fields()
    not_a_talk = is_not_a_talk(summary)
    if pattern:
        _from_pattern(found, pattern, summary, text)
    glued = _tec_sections(found, text)
    labelled = [] if glued else find_labels(text)
    _from_labels(found, labelled)
    context = _talk_context(summary, text, labelled)
    if not glued:
        _from_by_line(found, text, context)
    reading = _summary_reading(found, summary, text, context)
    if reading is not None:
        _from_summary(found, reading)
    if not glued:
        _from_first_line(found, text, context)
        _from_title_then_who(found, summary, text, context)
    summary_named_people = reading is not None and bool(reading.people)
    if found.people and not summary_named_people and summary.strip():
        _summary_around_speaker(found, summary)
    if labelled and found.people:
        _abstract_after_labels(found, labelled, text)
    _place(found, location, text)
    if not_a_talk:
        found.people = ()
        for name in ("speaker", "affiliation", "title"):
            found.values.pop(name, None)
            found.rules.pop(name, None)
    values = found.values
    return SeminarDetails(
        series=values.get("series", ""),
        speaker=values.get("speaker", ""),
        affiliation=values.get("affiliation", ""),
        title=values.get("title", ""),
        location=values.get("location", ""),
        abstract=values.get("abstract", ""),
        bio=values.get("bio", ""),
        video=values.get("video", ""),
        speakers=tuple(p.name for p in found.people),
        online_url=values.get("online_url", ""),
        rules=tuple(sorted(found.rules.items())),
    )
