"""Query words, inert FTS expressions and name corrections."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import search


def test_tokens_fold_case_and_accents_and_drop_duplicates() -> None:
    assert search.tokens("Gödel, GODEL and  Erdős!") == ["godel", "and", "erdos"]
    assert search.tokens("  ") == []
    assert len(search.tokens(" ".join(f"w{i}" for i in range(50)))) == search.MAX_TOKENS


def test_match_expression_quotes_every_word() -> None:
    assert search.match_expression(["a", 'b"c']) == '"a"* AND "b""c"*'
    assert search.match_expression(["a", "b"], any_word=True, prefix=False) == '"a" OR "b"'
    with pytest.raises(ValueError):
        search.match_expression([])


def test_corrections_find_the_nearest_names() -> None:
    vocab = ["mahoney", "hopper", "lovelace", "matrix", "machine"]
    fixed = search.corrections(["mahony", "lovelase", "of", "hopper"], vocab)
    assert fixed["mahony"][0] == "mahoney"
    assert fixed["lovelase"][0] == "lovelace"
    assert fixed["of"] == ["of"] and fixed["hopper"] == ["hopper"]
    assert search.did_you_mean(fixed) == "mahoney lovelace of hopper"
    assert search.corrected_expression({"x": ["a", "b"], "y": ["c"]}) == '("a"* OR "b"*) AND "c"*'


def test_nothing_to_correct_means_no_suggestion() -> None:
    fixed = search.corrections(["zzzzzz"], ["mahoney"])
    assert fixed == {"zzzzzz": ["zzzzzz"]}
    assert search.did_you_mean(fixed) == ""


def test_the_trigram_index_ranks_corrections_like_the_full_scan() -> None:
    vocab = ["mahoney", "mahony", "mahon", "maloney", "moloney", "hopper", "matrix", "machine"]
    index = search.VocabularyIndex.build(vocab)
    fixed = search.corrections(["mahoeny", "malony", "hoper"], index)
    assert fixed == {
        "mahoeny": ["mahony", "mahoney", "mahon"],
        "malony": ["maloney", "mahony", "moloney"],
        "hoper": ["hopper"],
    }
    assert fixed == search.corrections(["mahoeny", "malony", "hoper"], vocab)


_LETTERS = "abcdefghijklmnopqrstuvwxyzéü"


def _one_edit(word: str, where: int, letter: str, kind: int) -> str:
    """A typo a member makes: a letter dropped, added, replaced, or two swapped."""
    at = where % len(word)
    if kind == 0:
        return word[:at] + word[at + 1 :]
    if kind == 1:
        return word[:at] + letter + word[at:]
    if kind == 2:
        return word[:at] + letter + word[at + 1 :]
    if at + 1 < len(word):
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return word


@settings(max_examples=300, deadline=None)
@given(
    vocab=st.lists(st.text(_LETTERS, min_size=1, max_size=12), min_size=1, max_size=60),
    picks=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 20),
            st.sampled_from(_LETTERS),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_the_trigram_index_keeps_what_a_typo_needs(
    vocab: list[str], picks: list[tuple[int, int, str, int]]
) -> None:
    """The index scores only words sharing a trigram with the typo (a word that shares none
    can still pass difflib's cutoff, so the full scan may offer extra, unrelated words). What
    it must keep: every correction it gives is one the full scan rates close, in the same
    order, and the word a one-edit typo came from is found whenever the full scan finds it."""
    folded = [search.fold(v) for v in vocab]
    index = search.VocabularyIndex.build(vocab)
    for i, where, letter, kind in picks:
        source = folded[i % len(folded)]
        word = _one_edit(source, where, search.fold(letter), kind)
        if not word:
            continue
        full = search.corrections([word], folded)[word]
        indexed = search.corrections([word], index)[word]
        ranked = search.corrections([word], folded, per_word=len(folded) + 1)[word]
        offered = [w for w in indexed if w != word or word in index.words]
        assert all(w in ranked for w in offered)
        assert offered == sorted(offered, key=ranked.index)
        if source in full:
            assert source in indexed
