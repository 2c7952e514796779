"""Talk layouts of a one-line SUMMARY, each a small rule with its own id.

Rules are tried most specific first; each checks that the part it calls a speaker reads as a
person's name (see :mod:`bot.core.seminar.names`), so an event name never becomes a speaker.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.seminar.names import Person, parse_people

#: Words that make a "Label:" prefix (or "Label (…)") a series rather than a talk title.
SERIES_WORDS = re.compile(
    r"(?:(?<=[a-zäöüß])(?:seminar|kolloquium|vortrag|vorlesung)\b)|"  # German compounds
    r"\b(?:seminars?|colloqui(?:um|a)|lectures?|talks?|series|symposi(?:um|a)|distinguished|"
    r"speakers?|forum|workshop|keynote|defen[cs]e|lunch|tea|reading group|journal club|"
    r"kolloquium|vortrag|vorlesung|ringvorlesung|oberseminar|séminaire|conférence|coloquio|"
    r"seminario|conferencia|charla|webinar|brown ?bag|lecture series|lunch ?talk|grand rounds)",
    re.IGNORECASE,
)
_OPEN_QUOTES = "“\"„«‘'"
_CLOSE_QUOTES = "”\"“»’'"
_DASHES = (" – ", " — ", " -- ", " - ", " | ")
_MAX_TITLE = 300


@dataclass(frozen=True, slots=True)
class SummaryReading:
    rule: str
    series: str = ""
    people: tuple[Person, ...] = ()
    title: str = ""


def strip_quotes(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in _OPEN_QUOTES and text[-1] in _CLOSE_QUOTES:
        text = text[1:-1].strip()
    return text


def clean_title(text: str) -> str:
    """No surrounding quotes, no trailing period (a question or exclamation mark stays)."""
    title = strip_quotes(text.strip())
    if title.endswith(".") and not title.endswith("..."):
        title = title[:-1].rstrip()
    title = strip_quotes(title)
    return title if len(title) <= _MAX_TITLE else ""


#: Series labels under which "Series: Name" names one speaker (a workshop's or conference's
#: "Workshop: Ancient Political Thought" names a theme instead).
_ONE_SPEAKER_SERIES = re.compile(
    r"\b(?:seminars?|colloqui(?:um|a)|lectures?|talks?|speakers?|keynote|defen[cs]e|"
    r"kolloquium|vortrag|vorlesung|oberseminar|séminaire|conférence|coloquio|seminario|"
    r"conferencia|charla|webinar|grand rounds)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(?:19|20)\d\d\s")
_CANCELLED = re.compile(
    r"^\s*(?:cancel+ed|postponed|rescheduled|abgesagt|entfällt|annulé|cancelado|suspendido)"
    r"\s*(?:--|:|–|—|-)\s*",
    re.IGNORECASE,
)


_SERIES_NAME = re.compile(
    r"(?:\b(?:seminars?|colloqui(?:um|a)|lectures?|talks?|series|kolloquium|oberseminar|"
    r"grand rounds|brown ?bag|webinar)\s*$)|(?:^(?:séminaire|seminario|coloquio|kolloquium|"
    r"oberseminar|colloque|cycle de conférences)\b)",
    re.IGNORECASE,
)


def is_series_name(text: str) -> bool:
    """A SUMMARY that only names a series: "Algebra Seminar", "Séminaire de géométrie"."""
    text = text.strip()
    return len(text.split()) <= 6 and is_series_label(text) and bool(_SERIES_NAME.search(text))


_BRACKETED_SERIES = re.compile(r"^\s*[\[(](?P<series>[^\[\]()]{2,60})[\])]\s*(?P<rest>\S.*)$")
_TITLE_LABEL = re.compile(
    r"^\s*(?:talk title|seminar title|lecture title|title|titel|titre|título)\s*:\s*(?=\S)",
    re.IGNORECASE,
)


def without_status_prefix(summary: str) -> str:
    """``CANCELLED--Series Talk (…)`` reads like ``Series Talk (…)`` (the status is elsewhere);
    ``[Seminar] Title`` like ``Seminar: Title``; a ``Title:`` label at the head is dropped."""
    summary = _TITLE_LABEL.sub("", _CANCELLED.sub("", summary, count=1), count=1)
    bracketed = _BRACKETED_SERIES.match(summary)
    if bracketed is not None and is_series_label(bracketed.group("series")):
        summary = f"{bracketed.group('series').strip()}: {bracketed.group('rest')}"
    return summary


def is_series_label(text: str) -> bool:
    text = text.strip()
    if _YEAR.match(text):  # "2026 Memorial Lectures"
        text = text[5:]
    return (
        bool(text)
        and len(text) <= 80
        and not text[:1].isdigit()
        and bool(SERIES_WORDS.search(text))
    )


@functools.lru_cache(maxsize=4096)
def _people(text: str) -> tuple[Person, ...]:
    """The speakers of a summary's who-part. Remembered: an edited event usually keeps its
    speaker while its title or time changes, and reading names is most of the cost of
    reading a summary (the answer is a tuple of frozen people, safe to share)."""
    return tuple(parse_people(text))


def _quoted_tail(text: str) -> tuple[str, str] | None:
    """``head <sep> “Title”`` → (head, title) when the text ends with a quoted title."""
    text = text.strip()
    if not text or text[-1] not in _CLOSE_QUOTES:
        return None
    closing = text[-1]
    opening_choices = {"”": '“"', '"': '"“', "“": "“„", "»": "«", "’": "‘'", "'": "'‘"}
    for index in range(len(text) - 2, -1, -1):
        if text[index] in opening_choices.get(closing, _OPEN_QUOTES):
            head = text[:index].rstrip()
            title = text[index + 1 : -1].strip()
            for sep in ("–", "—", "-", ",", ":", "|"):
                if head.endswith(sep):
                    return head[: -len(sep)].rstrip(), title
            return None
    return None


def _tec_seed(summary: str) -> SummaryReading | None:
    """``Series: Name, Affiliation – “Title”`` (the comma-separated affiliation may hold commas)."""
    series, sep, rest = summary.partition(": ")
    if not sep or not is_series_label(series):
        return None
    tail = _quoted_tail(rest)
    if tail is None:
        return None
    who, title = tail
    if not title:
        return None
    # The layout itself says who speaks, so a speaker our name test would doubt ("Speaker 3",
    # a one-word stage name) is taken as written, up to the first comma.
    people = _people(who) or _as_written(who)
    return SummaryReading(
        "tec.summary.series_name_aff_title", series.strip(), people, clean_title(title)
    )


def _as_written(who: str) -> tuple[Person, ...]:
    name, _, affiliation = who.partition(",")
    name = " ".join(name.split())
    if not name or len(name) > 80 or len(name.split()) > 8 or any(c in name for c in '“”"():'):
        return ()
    return (Person(name, affiliation.strip()),)


def _series_who_title(summary: str) -> SummaryReading | None:
    """``Series: Name (Affiliation) – Title`` with an unquoted title after a dash."""
    series, sep, rest = summary.partition(": ")
    if not sep or not is_series_label(series):
        return None
    for dash in _DASHES:
        who, found, title = rest.partition(dash)
        if found:
            people = _people(who)
            if people and title.strip():
                return SummaryReading(
                    "summary.series_who_title", series.strip(), people, clean_title(title)
                )
            # "Series: Title – Name, Affiliation"
            people = _people(title)
            if people and who.strip() and not _people(who):
                return SummaryReading(
                    "summary.series_title_who", series.strip(), people, clean_title(who)
                )
    return None


def _series_who(summary: str) -> SummaryReading | None:
    """``Series: Name (Affiliation)`` or ``Series (Name, Affiliation)``: a talk whose title is
    elsewhere (often in DESCRIPTION)."""
    series, sep, rest = summary.partition(": ")
    if sep and is_series_label(series) and _ONE_SPEAKER_SERIES.search(series):
        people = _people(rest)
        if people:
            return SummaryReading("summary.series_who", series.strip(), people)
    match = re.fullmatch(r"(?P<series>[^()]+?)\s*\((?P<who>[^()]+)\)", summary.strip())
    if match and is_series_label(match.group("series")):
        people = _people(match.group("who"))
        if people:
            return SummaryReading("summary.series_paren_who", match.group("series"), people)
    return None


def _title_paren_who(summary: str) -> SummaryReading | None:
    """``Title (Name, Affiliation)`` as admins type them in Google/Outlook."""
    match = re.fullmatch(r"(?P<title>.+?)\s*\((?P<who>[^()]+)\)", summary.strip())
    if match is None:
        return None
    title = match.group("title")
    if is_series_label(title) and len(title.split()) <= 5:
        return None
    people = _people(match.group("who"))
    if not people or _people(summary):
        return None
    return SummaryReading("summary.title_paren_who", "", people, clean_title(title))


def _who_colon_title(summary: str) -> SummaryReading | None:
    """``Name (Affiliation): Title``."""
    for match in re.finditer(r": ", summary):
        who, title = summary[: match.start()], summary[match.end() :]
        if is_series_label(who):
            return None
        people = _people(who)
        if people and title.strip():
            return SummaryReading("summary.who_colon_title", "", people, clean_title(title))
    return None


def _series_dash_who_colon_title(summary: str) -> SummaryReading | None:
    """``Series — Name (Affiliation): Title``: a series label, a dash, then a who-colon-title."""
    for dash in _DASHES:
        series, sep, rest = summary.partition(dash)
        if sep and is_series_label(series) and len(series.split()) <= 6:
            reading = _who_colon_title(rest)
            if reading is not None:
                return SummaryReading(
                    "summary.series_dash_who_colon_title", series.strip(), reading.people,
                    reading.title,
                )  # fmt: skip
    return None


def _series_who_title_dashes(summary: str) -> SummaryReading | None:
    """``PhD Defense – Name – Title``: series, speaker and title between two dashes."""
    for dash in _DASHES:
        parts = summary.split(dash)
        if len(parts) == 3 and is_series_label(parts[0]) and parts[2].strip():
            people = _people(parts[1])
            if people:
                return SummaryReading(
                    "summary.series_who_title_dashes", parts[0].strip(), people,
                    clean_title(parts[2]),
                )  # fmt: skip
    return None


def _dash_split(summary: str) -> SummaryReading | None:
    """``Title – Name, Affiliation`` or ``Name, Name — Title`` (whichever side is people)."""
    for dash in _DASHES:
        if dash not in summary:
            continue
        left, _, right = summary.partition(dash)
        left_people = tuple(parse_people(left, prefer_list=True))
        right_people = _people(right)
        if left_people and not right_people and right.strip():
            # An em dash after a list of names is how seminar listings (InspireHEP) write it.
            rule = "summary.names_emdash_title" if dash == " — " else "summary.who_dash_title"
            return SummaryReading(rule, "", left_people, clean_title(right))
        if left_people and right_people and left.strip() and right.strip():
            # Both sides pass as names ("Glacial Lakes and Flood Risk - Dr Tenzin Dorje (…)"):
            # only a side marked as a person (honorific or affiliation) is taken, the other is
            # the title.
            # A comma is no mark: "Gala Honoring Ann Lee, Jo & Al Roe" is not a name.
            left_marked = all(p.honorific or p.affiliation for p in left_people)
            right_marked = all(p.honorific or (p.affiliation and not p.comma) for p in right_people)
            if right_marked and not left_marked:
                return SummaryReading("summary.title_dash_who", "", right_people, clean_title(left))
            return None
        if right_people and not left_people and left.strip():
            if is_series_label(left) and len(left.split()) <= 4:
                return SummaryReading("summary.series_dash_who", left.strip(), right_people)
            return SummaryReading("summary.title_dash_who", "", right_people, clean_title(left))
        return None
    return None


def _title_by_who(summary: str) -> SummaryReading | None:
    """``Title by Dr Name (Affiliation)``."""
    match = re.fullmatch(r"(?P<title>.+?),?\s+(?:by|von|par|por)\s+(?P<who>[^,]+(?:,.+)?)", summary)
    if match is None:
        return None
    people = _people(match.group("who"))
    if not people:
        return None
    title = clean_title(match.group("title"))
    if is_series_label(title) and len(title.split()) <= 3 and ": " not in title:
        return SummaryReading("summary.series_by_who", title, people)  # "Lecture by Prof. X"
    series, sep, rest = title.partition(": ")
    if sep and is_series_label(series):  # 'Talk: "Title" by X'
        return SummaryReading("summary.title_by_who", series, people, clean_title(rest))
    return SummaryReading("summary.title_by_who", "", people, title)


def _only_people(summary: str) -> SummaryReading | None:
    """The whole SUMMARY names the speakers (``Name (Affiliation)``, ``A (X) and B (Y)``)."""
    people = _people(summary)
    if not people or not all(p.affiliation for p in people) or "(" not in summary:
        return None  # a bare name could be anything ("Phone Free Fun"); need "(Affiliation)"
    return SummaryReading("summary.who", "", people)


def _series_title(summary: str) -> SummaryReading | None:
    """``Series: Title`` with no speaker in it."""
    series, sep, rest = summary.partition(": ")
    if not sep or not is_series_label(series) or not rest.strip():
        return None
    return SummaryReading("summary.series_title", series.strip(), (), clean_title(rest))


def read_summary_without_people(summary: str) -> SummaryReading | None:
    """``Series: Title`` or ``Series – Title``: used when the body named the speaker and the
    SUMMARY's would-be name is really a title ("Seminar: Resilient Power Grids")."""
    summary = without_status_prefix(" ".join(summary.split()))
    reading = _series_title(summary)
    if reading is not None:
        return reading
    for dash in _DASHES:
        series, sep, rest = summary.partition(dash)
        if sep and is_series_label(series) and len(series.split()) <= 6 and rest.strip():
            title = clean_title(rest)
            return SummaryReading("summary.series_dash_title", series.strip(), (), title)
    return None


_RULES: tuple[Callable[[str], SummaryReading | None], ...] = (
    _series_dash_who_colon_title,  # before "Series: …" rules, which would split at the colon
    _tec_seed,
    _series_who_title,
    _series_who,
    _only_people,
    _who_colon_title,
    _series_who_title_dashes,
    _dash_split,
    _title_paren_who,
    _title_by_who,
    _series_title,
)


def read_summary(summary: str) -> SummaryReading | None:
    summary = without_status_prefix(" ".join(summary.split()))
    if not summary or len(summary) > 400:
        return None
    for rule in _RULES:
        reading = rule(summary)
        if reading is not None:
            return reading
    return None
