"""Per-feed keyword filters: a channel can follow only the talks it cares about."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.core.models import Occurrence


def searchable_text(occurrence: Occurrence) -> str:
    seminar = occurrence.seminar
    parts = (
        occurrence.summary,
        occurrence.description,
        occurrence.location,
        " ".join(occurrence.categories),
        seminar.series,
        seminar.speaker,
        seminar.affiliation,
        seminar.title,
    )
    return " ".join(p for p in parts if p).casefold()


def keep(occurrence: Occurrence, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """True when any include keyword matches (or there are none) and no exclude keyword does."""
    text = searchable_text(occurrence)
    if include and not any(word.casefold() in text for word in include):
        return False
    return not any(word.casefold() in text for word in exclude)


def apply_filters(
    occurrences: Iterable[Occurrence], include: Sequence[str], exclude: Sequence[str]
) -> tuple[Occurrence, ...]:
    if not include and not exclude:
        return tuple(occurrences)
    return tuple(o for o in occurrences if keep(o, include, exclude))
