"""A feed's own regular expression for a house style no built-in rule reads.

Operators give one pattern for SUMMARY and/or one for DESCRIPTION, with named groups among
``speaker``, ``affiliation``, ``title`` and ``series``. Patterns are checked when configured (so
a typo is refused with a reason, never a crash at poll time) and matched against bounded text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KNOWN_GROUPS = ("speaker", "affiliation", "title", "series")
MAX_PATTERN_LENGTH = 300
#: Text a pattern may look at: a long description is cut so a slow pattern stays cheap.
MAX_SUBJECT = 4000
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*](?:[^()\\]|\\.)*\)[+*{]")


class FeedPatternError(ValueError):
    """Why a feed pattern was refused, in words an operator can act on."""


@dataclass(frozen=True, slots=True)
class FeedPattern:
    summary: str = ""
    description: str = ""

    def __bool__(self) -> bool:
        return bool(self.summary or self.description)


def compile_pattern(pattern: str, where: str = "pattern") -> re.Pattern[str]:
    """The compiled pattern, or :class:`FeedPatternError` saying what is wrong with it."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise FeedPatternError(
            f"{where} is {len(pattern)} characters; keep it under {MAX_PATTERN_LENGTH}"
        )
    if _NESTED_QUANTIFIER.search(pattern):
        raise FeedPatternError(
            f"{where} repeats a group that itself repeats, e.g. (a+)+, which can take forever "
            "on some text; rewrite it without the nested repetition"
        )
    try:
        compiled = re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    except re.error as exc:
        raise FeedPatternError(f"{where} is not a valid regular expression: {exc}") from None
    names = set(compiled.groupindex)
    unknown = sorted(names - set(KNOWN_GROUPS))
    if unknown:
        raise FeedPatternError(
            f"{where} has unknown group name(s) {', '.join(unknown)}; use {', '.join(KNOWN_GROUPS)}"
        )
    if not names:
        raise FeedPatternError(
            f"{where} has no named group; name at least one of {', '.join(KNOWN_GROUPS)}, "
            "e.g. (?P<speaker>[^,]+)"
        )
    return compiled


def validate(pattern: FeedPattern) -> FeedPattern:
    if pattern.summary:
        compile_pattern(pattern.summary, "summary pattern")
    if pattern.description:
        compile_pattern(pattern.description, "description pattern")
    return pattern


def apply(pattern: str, text: str) -> dict[str, str]:
    """Named groups the pattern found in ``text`` (empty groups left out); {} on no match."""
    if not pattern or not text:
        return {}
    try:
        compiled = compile_pattern(pattern)
    except FeedPatternError:
        return {}
    match = compiled.search(text[:MAX_SUBJECT])
    if match is None:
        return {}
    return {
        name: " ".join(value.split())
        for name, value in match.groupdict().items()
        if value and value.strip()
    }
