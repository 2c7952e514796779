"""Query handling for member search: tokens, FTS5 match strings and typo-tolerant suggestions.

Pure: the store runs the queries. Names are where people misspell most ("mahony" for
Mahoney), so when an exact/prefix search finds nothing, each word is corrected against the
index's own vocabulary (speaker, title, affiliation and series words) and the search retried.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: More words than this add nothing to a seminar search and only slow the query down.
MAX_TOKENS = 8
MAX_TOKEN_LENGTH = 40
_WORD = re.compile(r"\w+", re.UNICODE)
#: Typos this short are corrected by a full scan, not through the trigram index.
SHORT_WORD = 4


def fold(text: str) -> str:
    """Lower-case without accents, the way the FTS tokenizer stores words."""
    if text.isascii():  # nothing to decompose: the common case, and many times faster
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(query: str) -> list[str]:
    """The distinct words of a query, folded, in order, capped in number and length."""
    seen: list[str] = []
    for word in _WORD.findall(fold(query)):
        word = word.strip("_")[:MAX_TOKEN_LENGTH]
        if word and word not in seen:
            seen.append(word)
        if len(seen) >= MAX_TOKENS:
            break
    return seen


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def match_expression(words: Sequence[str], *, any_word: bool = False, prefix: bool = True) -> str:
    """An FTS5 MATCH string: every word (or any word) as a quoted, optionally prefix, term.

    Quoting makes user text inert: ``AND``, ``NEAR``, ``*`` or ``"`` typed by a member are
    searched for, never interpreted.
    """
    if not words:
        raise ValueError("nothing to search for")
    star = "*" if prefix else ""
    joiner = " OR " if any_word else " AND "
    return joiner.join(_quote(w) + star for w in words)


def trigrams(word: str) -> set[str]:
    """The word's three-letter windows, padded so its first and last letters count twice.

    The padding lets a short word with one typo ("mahony") still share its opening and
    closing windows with the right word, however the middle is misspelt.
    """
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


@dataclass(frozen=True, slots=True)
class VocabularyIndex:
    """The words typos are corrected against, indexed by trigram.

    A misspelt word is compared only with the words that share a trigram with it (a few
    dozen) instead of the whole vocabulary (tens of thousands of words in a big calendar).
    """

    words: frozenset[str]
    by_trigram: dict[str, tuple[str, ...]] = field(repr=False)

    @classmethod
    def build(cls, vocabulary: Iterable[str]) -> VocabularyIndex:
        return cls.of_folded(frozenset(fold(v) for v in vocabulary if v))

    @classmethod
    def of_folded(cls, words: frozenset[str]) -> VocabularyIndex:
        grams: defaultdict[str, list[str]] = defaultdict(list)
        for word in words:
            padded = f"  {word} "  # as in trigrams(), inlined: this loop is the build's cost
            for i in range(len(padded) - 2):
                grams[padded[i : i + 3]].append(word)
        return cls(words, {gram: tuple(found) for gram, found in grams.items()})

    def candidates(self, word: str) -> set[str]:
        """Vocabulary words sharing at least one trigram with ``word``."""
        found: set[str] = set()
        for gram in trigrams(word):
            found.update(self.by_trigram.get(gram, ()))
        return found


def corrections(
    words: Sequence[str],
    vocabulary: Iterable[str] | VocabularyIndex,
    *,
    per_word: int = 3,
    cutoff: float = 0.75,
) -> dict[str, list[str]]:
    """For each word, the closest vocabulary words (itself first when it is known).

    Words of one or two letters are kept as they are: any correction would be a guess.
    With a ``VocabularyIndex`` only words sharing a trigram are scored; the ranking among
    them is the same ``difflib`` ratio, so the answer is the same for any typo that leaves
    one trigram intact (a whole-vocabulary scan is what an iterable gets).
    """
    index: VocabularyIndex | None = None
    if isinstance(vocabulary, VocabularyIndex):
        index, known = vocabulary, vocabulary.words
    else:
        known = frozenset(fold(v) for v in vocabulary if v)
    result: dict[str, list[str]] = {}
    for word in words:
        if word in known or len(word) <= 2:
            result[word] = [word]
            continue
        # Short words share too few trigrams to narrow the search soundly ("baa" and "ababa"
        # share none yet score 0.75): those few are scored against the whole vocabulary.
        pool = index.candidates(word) if index and len(word) > SHORT_WORD else known
        close = difflib.get_close_matches(word, pool, n=per_word, cutoff=cutoff)
        # A typed prefix of a long name ("mahon") is not a typo: keep it for the prefix query.
        result[word] = close or [word]
    return result


def corrected_expression(fixed: dict[str, list[str]]) -> str:
    """Every word must match one of its corrections (prefix match on each)."""
    groups = []
    for options in fixed.values():
        if not options:
            continue
        inner = " OR ".join(_quote(o) + "*" for o in options)
        groups.append(f"({inner})" if len(options) > 1 else inner)
    if not groups:
        raise ValueError("nothing to search for")
    return " AND ".join(groups)


def did_you_mean(fixed: dict[str, list[str]]) -> str:
    """The corrected query as a member would type it, or "" when nothing was corrected."""
    if all(opts[:1] == [word] for word, opts in fixed.items()):
        return ""
    return " ".join(opts[0] if opts else word for word, opts in fixed.items())
