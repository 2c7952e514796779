"""The Events Calendar's glued post body: ``LocationRoomAbstract…Bio…Video…``.

The post had its headings (Location, Abstract, Bio, Video) as separate HTML blocks; the export's
tag stripping glued them to their neighbours. Sections are split back out only when the text
opens with a heading and at least two are found; otherwise the description is left alone.
"""

from __future__ import annotations

import re

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
