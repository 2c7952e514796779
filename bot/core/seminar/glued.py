"""The Events Calendar layout of the first feed: a labelled SUMMARY and a glued body.

The Events Calendar exports a SUMMARY like ``CS Seminar: Name, Affiliation – “Title”`` and a
DESCRIPTION whose headings (Location, Abstract, Bio, Video) were glued to their neighbours by tag
stripping. Everything here is conservative: a field is filled only when the text clearly follows
the pattern, otherwise it stays empty and the post falls back to the raw SUMMARY/DESCRIPTION.
"""

from __future__ import annotations

import re

#: Words that make a "Label:" prefix a series label rather than any colon in a title.
_SERIES_WORDS = re.compile(
    r"\b(?:seminars?|colloqui(?:um|a)|lectures?|talks?|series|symposi(?:um|a)|distinguished|"
    r"speakers?|forum|workshop|keynote|defen[cs]e|lunch|tea|reading group|journal club)\b",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^(?P<series>[^:\n]{2,60}?)\s*:\s+(?P<rest>\S.*)$", re.DOTALL)
_OPEN_QUOTES = '“"„«'
_CLOSE_QUOTES = '”"“»'
_SPEAKER_TITLE = re.compile(
    r"^(?P<who>[^“”\"]+?)\s+[–—-]\s+[“\"„«](?P<title>.+)[”\"“»]\s*$", re.DOTALL
)
_MAX_SPEAKER = 80

#: Description headings in the order TEC posts carry them, with the field they fill.
_HEADINGS: tuple[tuple[str, str], ...] = (
    ("Location", "location"),
    ("Abstract", "abstract"),
    ("Bio", "bio"),
    ("Biography", "bio"),
    ("Video", "video"),
)
_HEADING_NAMES = ("Location", "Abstract", "Biography", "Bio", "Video")
# A heading starts the text or follows sentence punctuation, a digit or a line break, and is
# glued to the next capitalised word (or separated by a colon / line break in cleaner exports).
_HEADING_AT = {
    name: re.compile(
        rf"(?:^|(?<=[.!?)\]”\"'0-9\n]))[ \t\n]*{name}(?::\s*|[ \t]*\n\s*)?(?=[A-Z0-9“\"])"
    )
    for name in _HEADING_NAMES
}


def _strip_quotes(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in _OPEN_QUOTES and text[-1] in _CLOSE_QUOTES:
        return text[1:-1].strip()
    return text


def parse_summary(summary: str) -> tuple[str, str, str, str]:
    """(series, speaker, affiliation, title); all empty unless a series label is present."""
    match = _LABEL.match(summary.strip())
    if match is None:
        return "", "", "", ""
    series = match.group("series").strip()
    if not _SERIES_WORDS.search(series) or series[:1].isdigit():
        return "", "", "", ""
    rest = match.group("rest").strip()
    talk = _SPEAKER_TITLE.match(rest)
    if talk is None:
        return series, "", "", _strip_quotes(rest)
    who = talk.group("who").strip()
    title = talk.group("title").strip()
    speaker, _, affiliation = who.partition(",")
    speaker, affiliation = speaker.strip(), affiliation.strip()
    if not speaker or len(speaker) > _MAX_SPEAKER or not title:
        return series, "", "", _strip_quotes(rest)
    return series, speaker, affiliation, title


def _find_headings(text: str) -> list[tuple[str, int, int]]:
    """(field, heading start, content start) in order; empty unless the text opens with one."""
    found: list[tuple[str, int, int]] = []
    pos = 0
    for name, field_name in _HEADINGS:
        if any(f == field_name for f, _, _ in found):
            continue
        match = _HEADING_AT[name].search(text, pos)
        if match is None:
            continue
        heading_start = text.index(name, match.start())
        found.append((field_name, heading_start, match.end()))
        pos = match.end()
    if not found or found[0][1] != 0:
        return []
    return found


def parse_description(description: str) -> dict[str, str]:
    """Split a glued ``Location…Abstract…Bio…Video…`` description into sections."""
    text = description.strip()
    headings = _find_headings(text)
    if len(headings) < 2:
        return {}
    sections: dict[str, str] = {}
    for index, (field_name, _, content_start) in enumerate(headings):
        end = headings[index + 1][1] if index + 1 < len(headings) else len(text)
        value = text[content_start:end].strip()
        if value:
            sections[field_name] = value
    return sections
