"""Per-feed templates for an announcement's title line and optional lead line.

A template is plain text with ``{field}`` placeholders from a closed set (``FIELDS``) and
``{{`` / ``}}`` for literal braces. Nothing else is interpreted: no attribute or index access,
no format specs, no code (``str.format`` is never called on a template). The admin's literal
text is made inert for Discord (no mentions, links or markdown); field values are feed text,
which the Discord layer makes inert like every other piece of feed text.

An empty field disappears with the text that introduces it, so ``{series}: {speaker}`` reads
``Speaker`` when the event has no series: the literal text before an empty field (back to the
previous field) is dropped, together with a closing bracket that matches an opening one it
ended with; an empty *first* field drops the text after it instead. A title template whose
fields are all empty for an event falls back to the default title (the event's title); a
lead line whose fields are all empty is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.text import inert

#: The fields a template may use, each with what it holds (shown to admins in errors).
FIELDS: Mapping[str, str] = {
    "title": "the talk's title (the event's title when no talk title was found)",
    "speaker": "the speaker's name; several speakers as 'A, B and C'",
    "affiliation": "the speaker's institution",
    "series": "the seminar series",
    "place": "the room, or the join link of an online talk",
    "date": "the day in the feed's time zone, e.g. 'Tue 5 Nov'",
    "time": "the start time in the feed's time zone, e.g. '10:45' (empty for all-day talks)",
    "feed": "the feed's name",
}
#: Discord's embed title limit; a rendered title is cut to it.
TITLE_LIMIT = 256
#: The lead line is one short line above the abstract, never a second abstract.
LEAD_LIMIT = 200
#: Longest template accepted (before rendering), so a template cannot be a wall of text.
TEMPLATE_LIMIT = 300

#: Made-up values for showing an admin what a template will look like.
SAMPLE_VALUES: Mapping[str, str] = {
    "title": "Proofs that run",
    "speaker": "Ada Lovelace",
    "affiliation": "University of London",
    "series": "Theory Seminar",
    "place": "Room 101",
    "date": "Tue 5 Nov",
    "time": "10:45",
    "feed": "cs-seminar",
}

_OPENERS = {"(": ")", "[": "]", "«": "»", "“": "”", '"': '"'}


class TemplateError(ValueError):
    """A template that cannot be used; the message names the field or the limit."""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal pieces and field names, alternating, literal first."""

    source: str
    literals: tuple[str, ...]
    fields: tuple[str, ...]


def parse_template(source: str, *, limit: int = TEMPLATE_LIMIT) -> Template:
    """Parse ``source`` or raise ``TemplateError`` naming what is wrong."""
    if len(source) > limit:
        raise TemplateError(f"the template is {len(source)} characters; at most {limit}")
    if "\n" in source or "\r" in source:
        raise TemplateError("the template must be one line")
    literals: list[str] = []
    names: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "{" and source.startswith("{{", i):
            current.append("{")
            i += 2
        elif char == "}" and source.startswith("}}", i):
            current.append("}")
            i += 2
        elif char == "{":
            end = source.find("}", i + 1)
            if end < 0:
                raise TemplateError("a '{' is not closed (write '{{' for a literal brace)")
            name = source[i + 1 : end].strip()
            if name not in FIELDS:
                raise TemplateError(
                    f"unknown field {{{name}}}; the fields are " + ", ".join(FIELDS)
                )
            literals.append("".join(current))
            names.append(name)
            current = []
            i = end + 1
        elif char == "}":
            raise TemplateError("a '}' has no '{' (write '}}' for a literal brace)")
        else:
            current.append(char)
            i += 1
    literals.append("".join(current))
    if not names:
        raise TemplateError("the template uses no field; the fields are " + ", ".join(FIELDS))
    return Template(source=source, literals=tuple(literals), fields=tuple(names))


def render(template: Template, values: Mapping[str, str]) -> str:
    """The template filled from ``values``; "" when every field is empty.

    Missing keys count as empty. Values are used as given (one line each); literals are
    made inert. The caller applies the length limit.
    """
    filled = [" ".join(values.get(name, "").split()) for name in template.fields]
    if not any(filled):
        return ""
    literals = list(template.literals)
    first = next(index for index, value in enumerate(filled) if value)
    # Empty fields before the first filled one: nothing to separate from, so the text between
    # the template's start and that field goes, except an opening bracket closed after it.
    for index in range(1, first + 1):
        opener = literals[index].rstrip()[-1:]
        closer = _OPENERS.get(opener, "")
        keeps_opener = index == first and closer and literals[first + 1].lstrip().startswith(closer)
        literals[index] = opener if keeps_opener else ""
    # A later empty field takes the text that introduced it (and the bracket it opened).
    for index in range(first + 1, len(filled)):
        if filled[index]:
            continue
        dropped, literals[index] = literals[index], ""
        closer = _OPENERS.get(dropped.rstrip()[-1:], "")
        if closer and literals[index + 1].lstrip().startswith(closer):
            literals[index + 1] = literals[index + 1].lstrip()[len(closer) :]
    parts: list[str] = [inert(literals[0])]
    for index, value in enumerate(filled):
        parts.append(value)
        parts.append(inert(literals[index + 1]))
    return " ".join("".join(parts).split())


def fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class CardTemplates:
    """A feed's templates, parsed once; ``None`` means the default."""

    title: Template | None = None
    lead: Template | None = None

    @classmethod
    def from_sources(cls, title: str, lead: str) -> CardTemplates:
        """Both templates parsed; "" means not set. Raises ``TemplateError``, naming which."""
        try:
            parsed_title = parse_template(title) if title.strip() else None
        except TemplateError as exc:
            raise TemplateError(f"title template: {exc}") from None
        try:
            parsed_lead = parse_template(lead) if lead.strip() else None
        except TemplateError as exc:
            raise TemplateError(f"lead template: {exc}") from None
        return cls(title=parsed_title, lead=parsed_lead)

    def render_title(self, values: Mapping[str, str], default: str) -> str:
        """The title line, or ``default`` when there is no template or nothing to fill it."""
        if self.title is None:
            return default
        return fit(render(self.title, values), TITLE_LIMIT) or default

    def render_lead(self, values: Mapping[str, str]) -> str:
        """The lead line, or "" (no line)."""
        if self.lead is None:
            return ""
        return fit(render(self.lead, values), LEAD_LIMIT)
