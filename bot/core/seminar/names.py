"""Is this a person's name, and which names and affiliations does a "who" string hold?

A wrong speaker is worse than none, so a name is accepted only when it looks like one: two to
six capitalised words (initials and particles such as "van" or "de" allowed), no digits and none
of the words that make up titles, rooms and event names. Honorifics (``Prof. Dr.``) and degrees
(``PhD``) are removed; "A and B", "A, B & C" and "A (X) and B (Y)" give several speakers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HONORIFIC = re.compile(
    r"^(?:(?:prof(?:essor)?|assoc\.?\s+prof|asst\.?\s+prof|assistant\s+professor|"
    r"associate\s+professor|dr|drs|mr|mrs|ms|mx|miss|sir|dame|rev|fr|hon|herr|frau|"
    r"priv\.?-?doz|pd|jun\.?-?prof|juniorprof|mme|mlle|m|pr|sr|sra|srta|don|doña|ing|dipl\.?-?ing|"
    r"dra|profa|prof\.?ssa|dott|dott\.?ssa|drs|ir|mag|"
    r"univ\.?-?prof|ao\.?\s*univ\.?-?prof|em|emer)\.?(?:\s+|$))+",
    re.IGNORECASE,
)
_DEGREE = re.compile(
    r"(?:,?\s+(?:ph\.?\s?d\.?|m\.?d\.?|d\.?phil\.?|m\.?sc\.?|b\.?sc\.?|m\.?a\.?|m\.?s\.?|"
    r"jr\.?|sr\.?|ii|iii|iv|frs|fres|mba|dsc|d\.?sc\.?|habil\.?|esq\.?|rn|mph|jd|j\.d\.|llm|"
    r"dnp|mfa|dds|pharmd|facs|faan|fmedsci|freng|mrcp|frcp|msc|dr\.? ?rer\.? ?nat\.?))+\s*$",
    re.IGNORECASE,
)
_PARTICLES = _words(
    "van von der den de del della di da dos das du la le al el bin ibn ben ter ten zu y e "
)
#: Words that occur in titles, rooms, organisations and event names but not in names.
_NOT_NAME_WORDS = _words(
    "a an the of for on in at to with and or from by via as is are be can do we our your "
    "their how what why when where who which new towards toward beyond between into about "
    "under over seminar seminars colloquium colloquia lecture lectures talk talks series "
    "symposium workshop meeting meetings group groups lab labs department dept school college "
    "university universität université universidad institute institut instituto center centre "
    "hall room building campus auditorium library online zoom teams webex virtual hybrid tba "
    "tbd tbc title abstract speaker speakers host hosts chair organizer location venue time "
    "date day week days holiday holidays break reading office hours deadline exam exams "
    "faculty staff student students graduate undergraduate orientation reception party social "
    "lunch coffee tea dinner breakfast welcome closed closure no class classes cancelled "
    "canceled postponed defense defence thesis phd learning data theory theories systems "
    "system networks network models model analysis introduction approach approaches methods "
    "method problem problems applications application science sciences research quantum deep "
    "neural machine graph graphs algorithms algorithm physics chemistry biology mathematics "
    "math economics history philosophy language languages computing computer design policy "
    "health energy climate world life time space open future recent advances progress study "
    "studies case cases perspective perspectives survey review part session sessions panel "
    "discussion forum conference keynote opening closing award memorial annual distinguished "
    "public special invited guest journal club day night info information event events "
    "program programme registration council committee board annual spring fall autumn winter "
    "again now here there today tomorrow live more all out up back go grand rounds "
    "presentation country training after before without through against within across "
    "around during since until upon like near than versus vs power "
    "polytechnic università universita universitat universiteit hochschule laboratory "
    "laboratories academy observatory hospital clinic foundation corporation inc ltd gmbh "
    "college colleges ministry agency office unit survey "
    "summer term semester quarter year years first last final club society association meetup "
    "hackathon demo tutorial course class lab "
)
_TOKEN_OK = re.compile(r"^(?:[A-ZÀ-ÖØ-ÞĀ-ſ][\w'’\-.]*|[A-Z]\.(?:-?[A-Z]\.)*|[A-Z]\.?)$", re.UNICODE)
_SPLIT_SPEAKERS = re.compile(r"\s*(?:;|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|/)\s*")
_MAX_NAME = 60


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    affiliation: str = ""
    #: The text gave an honorific (Dr, Prof.): good evidence that a person is meant.
    honorific: bool = False
    #: The affiliation followed a comma inside the who-part ("Name, University").
    comma: bool = False


def strip_honorifics(text: str) -> str:
    text = text.strip().strip(",").strip()
    text = _HONORIFIC.sub("", text).strip()
    return _DEGREE.sub("", text).strip().strip(",").strip()


def looks_like_name(text: str) -> bool:
    """Two to six capitalised words, with initials and particles; nothing from titles or rooms."""
    if not text or len(text) > _MAX_NAME or any(ch.isdigit() for ch in text):
        return False
    if any(ch in text for ch in ',:;!?"“”«»()[]{}@/\\|<>=+*#%$&'):
        return False
    tokens = text.split()
    if any(_INNER_TITLE.fullmatch(t) for t in tokens[1:]):
        return False  # "Vortrag von Prof. Dr. Anna Keller": words before the honorific
    words = [t for t in tokens if len(t.strip(".")) >= 2 and t.lower() not in _PARTICLES]
    shouting = [t for t in words if t.isupper()]
    if shouting and len(shouting) != len(words):  # "ETH Zürich": an acronym beside a word
        return False
    if not 2 <= len(tokens) <= 6:
        return False
    capitalised = 0
    for token in tokens:
        bare = token.strip(".,")
        if bare.lower() in _NOT_NAME_WORDS and bare.lower() not in _PARTICLES:
            return False
        if bare.lower() in _PARTICLES:
            continue
        if not _TOKEN_OK.match(token):
            return False
        capitalised += 1
    first = tokens[0]
    if len(first) > 5 and first.endswith("ing") and first[1:].islower():
        return False  # "Exploring Impact Investing": a gerund starts titles, not names
    last = tokens[-1].strip(".,")
    if len(last) < 2 or last.lower() in _PARTICLES:  # a name ends with a surname, not "J."
        return False
    return capitalised >= 2


def clean_name(text: str) -> str:
    """The name without honorifics or degrees, "" when what is left is not a name."""
    name = " ".join(strip_honorifics(text).split())  # kept as written, even "C. MOHAN"
    return name if looks_like_name(name) else ""


def _split_paren(text: str) -> tuple[str, str] | None:
    """``Name (Affiliation)`` → (Name, Affiliation); None without a closing parenthesis at end."""
    text = text.strip()
    if not text.endswith(")") or "(" not in text:
        return None
    open_at = text.index("(")
    inner = text[open_at + 1 : -1].strip()
    if "(" in inner or ")" in inner:
        return None
    return text[:open_at].strip(), inner


def parse_person(text: str, *, allow_comma_affiliation: bool = True) -> Person | None:
    """One ``Name``, ``Name (Affiliation)``, ``Name, Affiliation`` or ``Name - Affiliation``."""
    text = " ".join(text.split()).strip(" ,;")
    if not text:
        return None
    honorific = _HONORIFIC.match(text) is not None
    paren = _split_paren(text)
    if paren is not None:
        name = clean_name(paren[0])
        if name and _plausible_affiliation(paren[1]):
            return Person(name, drop_job_title(paren[1]), honorific)
        return None
    name = clean_name(text)
    if name:
        return Person(name, "", honorific)
    if allow_comma_affiliation:
        return (
            _comma_person(text, honorific)
            or _dash_person(text, honorific)
            or _of_person(text, honorific)
        )
    return None


def _comma_person(text: str, honorific: bool) -> Person | None:
    """``Name, Affiliation``: the name is before the first comma not part of a degree."""
    # The name is before the first comma (after honorifics and degrees that may hold commas).
    stripped = _DEGREE.sub("", strip_honorifics(text.split(",")[0])) if "," in text else ""
    if not stripped:
        return None
    head, _, rest = text.partition(",")
    while True:  # ", PhD, University" — let degrees stay with the name
        degree_free = _DEGREE.sub("", f"{head}, {rest.split(',')[0]}")
        if "," in rest and degree_free.strip() == head.strip():
            head = f"{head}, {rest.split(',')[0]}"
            rest = rest.partition(",")[2]
            continue
        break
    name = clean_name(head)
    affiliation = rest.strip(" ,;")
    if name and _plausible_affiliation(affiliation):
        return Person(name, drop_job_title(affiliation), honorific, comma=True)
    return None


def _dash_person(text: str, honorific: bool) -> Person | None:
    """``Name – Institution``: only a recognisable institution after the dash counts."""
    for dash in (" – ", " — ", " - "):
        head, sep, rest = text.partition(dash)
        if sep:
            name = clean_name(head)
            if name and _plausible_affiliation(rest.strip()) and _INSTITUTION.search(rest):
                return Person(name, rest.strip(), honorific)
    return None


_OF_INSTITUTION = re.compile(r"\s+(?:of|from|at)\s+(?:the\s+)?(?=\S)", re.IGNORECASE)


def _of_person(text: str, honorific: bool) -> Person | None:
    """``Name of/from/at (the) Institution``: only a recognisable institution counts."""
    for match in _OF_INSTITUTION.finditer(text):
        name = clean_name(text[: match.start()])
        rest = text[match.end() :].strip()
        if name and _plausible_affiliation(rest) and _INSTITUTION.search(rest):
            return Person(name, rest, honorific)
    return None


#: Words of an institution's name: after a dash ("Name – X") only these make X an affiliation.
_INSTITUTION = re.compile(
    r"univers|institu|college|school|lab|cent(?:er|re)|hospital|academy|observator|"
    r"polytechn|hochschule|école|escuela|facult|department|company|corporation|inc\b|ltd\b|"
    r"gmbh|research|foundation|agency|council|station|museum|musée|museo|court|ministry|"
    r"universidade|universit|instituto|laborator|clinic",
    re.IGNORECASE,
)
_INNER_TITLE = re.compile(r"(?:prof|professor|dr|dra|drs)\.?", re.IGNORECASE)
_NOT_AFFILIATION = re.compile(r" [–—-] |: |[“”\"«»]|https?://")


_JOB_TITLE = re.compile(
    r"^(?:(?:assistant|associate|full|adjunct|visiting|emeritus|distinguished|senior|junior)\s+)*"
    r"(?:professor|lecturer|reader|researcher|research (?:fellow|scientist)|postdoc(?:toral)?"
    r"(?: (?:fellow|researcher))?|fellow|scientist|director|phd (?:student|candidate)|"
    r"doctoral (?:student|candidate)|graduate student|student|engineer|chair)"
    r"(?:\s+(?:of|in)\s+[^,]+?)?(?:\s+at\s+|,\s*)(?=[A-Z])",
    re.IGNORECASE,
)


def looks_like_institution(line: str) -> bool:
    """A short line naming an institution ("Volga Biological Station"), not a sentence."""
    line = line.strip()
    return (
        0 < len(line) <= 100
        and not line.endswith((".", "!", "?"))
        and _plausible_affiliation(line)
        and ":" not in line
        and len(line.split()) >= 2
        and _HONORIFIC.match(line) is None
        and any(_INSTITUTION.match(word) for word in line.split()[1:] + line.split()[:1])
    )


def drop_job_title(affiliation: str) -> str:
    """``Assistant Professor of History, Univ X`` → ``Univ X`` (the institution only)."""
    return _JOB_TITLE.sub("", affiliation, count=1).strip()


def _plausible_affiliation(text: str) -> bool:
    """An institution, not the rest of a SUMMARY (a dash, a colon or a quoted title)."""
    return (
        0 < len(text) <= 160
        and (text[0].isupper() or (text[0].isdigit() and any(c.isalpha() for c in text)))
        and _NOT_AFFILIATION.search(text) is None
    )


def _all_names(text: str) -> list[Person]:
    """``A, B and C``: a list made only of names (no affiliations)."""
    pieces = [p for p in re.split(r"\s*,\s*|" + _SPLIT_SPEAKERS.pattern, text) if p and p.strip()]
    if len(pieces) < 2:
        return []
    names = [clean_name(p) for p in pieces]
    honorific = _HONORIFIC.match(text) is not None
    return [Person(n, "", honorific) for n in names] if all(names) else []


def _paren_groups(text: str) -> list[str] | None:
    """Split ``A (X), B (Y) and C (Z)`` into its people; None when the shape is different."""
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        current += ch
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                parts.append(current.strip())
                current = ""
        elif depth == 0 and not current.strip(" ,;&") and ch in ",;&":
            current = ""
    if depth != 0:
        return None
    tail = current.strip()
    if tail:
        parts.append(tail)
    cleaned: list[str] = []
    for part in parts:
        part = re.sub(r"^(?:,|;|&|and\b|und\b|et\b|y\b)\s*", "", part.strip()).strip()
        if part:
            cleaned.append(part)
    return cleaned if len(cleaned) >= 2 else None


def parse_people(text: str, *, prefer_list: bool = False) -> list[Person]:
    """Every speaker in a "who" string, or [] unless all of it reads as people.

    "A, B" is ambiguous: by default it is a name and an affiliation ("Ada Quill, Westvale
    Polytechnic"); ``prefer_list`` reads it as two names (listings that give names only).
    """
    text = " ".join(text.split()).strip(" ,;.")
    if not text or len(text) > 400:
        return []
    if text.count("(") >= 2:
        groups = _paren_groups(text)
        if groups is None:
            return []
        people = [parse_person(g, allow_comma_affiliation=False) for g in groups]
        return [p for p in people if p is not None] if all(people) else []
    if "(" not in text:
        conjunction = _CONJUNCTION.search(text)
        comma = text.find(",")
        if conjunction is not None and comma > conjunction.start():
            shared = _names_then_affiliation(text)  # "A and B, University"
            if shared:
                return shared
        listed = _all_names(text)
        if listed and (prefer_list or len(listed) >= 3 or conjunction is not None):
            return listed
    single = parse_person(text)
    if single is not None:
        return _shared_affiliation(text) or [single]
    return _shared_affiliation(text) or _all_names(text)


_CONJUNCTION = re.compile(r"\s(?:and|und|et|y|e|&)\s")


def _names_then_affiliation(text: str) -> list[Person]:
    head, _, tail = text.partition(",")
    names = [clean_name(p) for p in _CONJUNCTION.split(head)]
    tail = tail.strip()
    if len(names) < 2 or not all(names) or not _plausible_affiliation(tail):
        return []
    honorific = _HONORIFIC.match(text) is not None
    return [Person(n, drop_job_title(tail), honorific, comma=True) for n in names]


def _shared_affiliation(text: str) -> list[Person]:
    """``A and B (Affiliation)``: several names sharing one affiliation."""
    paren = _split_paren(text)
    if paren is None or not _SPLIT_SPEAKERS.search(paren[0]):
        return []
    names = [clean_name(p) for p in re.split(r"\s*,\s*|" + _SPLIT_SPEAKERS.pattern, paren[0])]
    names = [n for n in names if n != ""] if all(names) else []
    if len(names) < 2:
        return []
    return [Person(name, paren[1], _HONORIFIC.match(text) is not None) for name in names]


def display_names(people: list[Person]) -> str:
    names = [p.name for p in people]
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def joint_affiliation(people: list[Person]) -> str:
    affiliations: list[str] = []
    for person in people:
        if person.affiliation and person.affiliation not in affiliations:
            affiliations.append(person.affiliation)
    return "; ".join(affiliations)
