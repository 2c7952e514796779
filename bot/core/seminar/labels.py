"""Labelled lines in a description: ``Speaker: …``, ``Titel: …``, or a label on its own line.

Producers that keep structure write each field after a label, in the site's language; rich-text
editors put the label in bold on its own line (``<strong>Speaker</strong>``) with the value on
the next line. Labels are matched as whole lines' heads only, so prose that merely mentions a
"speaker" is never read as a field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.seminar.names import drop_job_title, looks_like_institution

#: Label words per field, in English, German, French, Spanish (and a few Italian/Dutch ones).
_LABELS: dict[str, tuple[str, ...]] = {
    "speaker": (
        "speaker", "speakers", "presenter", "presenters", "presented by", "lecturer",
        "guest speaker", "keynote speaker", "invited speaker", "candidate", "talk by", "by",
        "referent", "referentin", "referenten", "referent*in", "referent:in", "vortragende",
        "vortragender", "vortragende/r", "sprecher", "sprecherin", "vortrag von", "gast",
        "orateur", "oratrice", "conférencier", "conférencière", "conferencier", "intervenant",
        "intervenante", "intervenants", "présenté par", "ponente", "ponentes", "conferenciante",
        "expositor", "expositora", "orador", "oradora", "relatore", "relatrice", "spreker",
    ),
    "affiliation": (
        "affiliation", "institution", "organisation of speaker", "zugehörigkeit", "institut",
        "institución", "afiliación", "affiliazione",
    ),
    "title": (
        "title", "talk title", "titles", "talk", "topic", "seminar title", "lecture title",
        "titel", "vortragstitel", "thema", "titre", "sujet", "título", "titulo", "tema",
        "titolo", "onderwerp",
    ),
    "abstract": (
        "abstract", "talk abstract", "summary", "zusammenfassung", "kurzfassung", "inhalt",
        "résumé", "resume", "resumen", "sommario", "samenvatting", "description",
    ),
    "bio": (
        "bio", "biography", "speaker bio", "about the speaker", "biografie", "biographie",
        "biografía", "biografia", "zur person", "bio sketch", "biosketch",
    ),
    "location": (
        "location", "place", "venue", "room", "where", "ort", "raum", "hörsaal",
        "veranstaltungsort",
        "lieu", "salle", "lugar", "sala", "aula", "luogo",
    ),
    "series": ("series", "seminar series", "event series", "reihe", "vortragsreihe", "série",
               "serie", "ciclo", "part of"),
    # Recognised so their values are never mistaken for another field, but not extracted.
    "ignored": (
        "host", "hosts", "hosted by", "host(s)", "chair", "chaired by", "organizer", "organiser",
        "organizers", "organisers", "organised by", "organized by", "moderator", "moderation",
        "contact", "kontakt", "gastgeber", "gastgeberin", "leitung", "organisateur",
        "organisation", "animé par", "modérateur", "moderador", "organizador", "anfitrión",
        "contacto", "when", "date", "time", "datum", "zeit", "uhrzeit", "heure", "fecha",
        "hora", "date et heure", "zoom", "link", "join", "meeting link", "zoom link",
        "registration", "anmeldung", "inscription", "inscripción", "cost", "price", "category",
        "categories", "tags", "audience", "video", "recording", "slides", "more info",
    ),
}  # fmt: skip

_LABEL_TO_FIELD = {label: name for name, labels in _LABELS.items() for label in labels}
_ALTERNATION = "|".join(
    re.escape(label) for label in sorted(_LABEL_TO_FIELD, key=len, reverse=True)
)
#: ``Label: value`` (colon, or a dash after a bold label) at the head of a line.
_INLINE = re.compile(
    rf"^[ \t•*\-]*(?P<label>{_ALTERNATION})[ \t]*(?:\([^)\n]{{0,12}}\)|[1-9])?[ \t]*[:：][ \t]*"
    rf"(?P<value>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
#: A label alone on its line (a heading); the value is on the following line(s).
_HEADING = re.compile(
    rf"^[ \t•*]*(?P<label>{_ALTERNATION})[ \t]*[:：]?[ \t]*$", re.IGNORECASE | re.MULTILINE
)
#: Long fields run to the next label; short ones stop at the line end.
_LONG_FIELDS = frozenset({"abstract", "bio"})
_SHORT_MAX = 300


@dataclass(frozen=True, slots=True)
class Labelled:
    field: str
    label: str
    value: str
    #: Start of the label in the text (the end of the previous section).
    start: int
    end: int


def _field_for(label: str) -> str:
    return _LABEL_TO_FIELD[" ".join(label.lower().split())]


def find_labels(text: str) -> list[Labelled]:
    """Every labelled field in order; long fields (abstract, bio) run until the next label."""
    hits: list[tuple[int, int, str, str, bool]] = []  # start, value start, field, label, heading
    for match in _INLINE.finditer(text):
        if match.group("label").lower() == "by":
            continue  # "By:" as a label is rare; "by X" is handled as prose elsewhere
        hits.append((match.start(), match.start("value"), _field_for(match.group("label")),
                     match.group("label"), False))  # fmt: skip
    for match in _HEADING.finditer(text):
        if match.group("label").lower() in ("by", "talk", "where", "when", "summary", "gast"):
            continue
        hits.append((match.start(), match.end(), _field_for(match.group("label")),
                     match.group("label"), True))  # fmt: skip
    hits.sort()
    found: list[Labelled] = []
    for index, (start, value_start, field_name, label, heading) in enumerate(hits):
        next_start = hits[index + 1][0] if index + 1 < len(hits) else len(text)
        body = text[value_start:next_start]
        if heading:
            body = body.strip()
        head, _, after = body.partition("\n")
        value = body.strip() if field_name in _LONG_FIELDS else head.strip()
        lines = [value, *(line.strip() for line in after.split("\n") if line.strip())]
        if field_name == "speaker" and value:
            value = _with_affiliation_line(value, lines[1].strip() if len(lines) > 1 else "")
        if field_name not in _LONG_FIELDS and len(value) > _SHORT_MAX:
            continue
        found.append(Labelled(field_name, label, value, start, next_start))
    return found


def _with_affiliation_line(value: str, next_line: str) -> str:
    """``Speaker: Name`` with the institution alone on the next line joins as ``Name, X``."""
    if "(" in value or "," in value or not looks_like_institution(drop_job_title(next_line)):
        return value
    return f"{value}, {next_line}"


def all_values(labelled: list[Labelled], field_name: str) -> list[Labelled]:
    """Every non-empty ``field_name`` item ("Speaker 1: …", "Speaker 2: …")."""
    return [item for item in labelled if item.field == field_name and item.value]


def first_value(labelled: list[Labelled], field_name: str) -> Labelled | None:
    for item in labelled:
        if item.field == field_name and item.value:
            return item
    return None
