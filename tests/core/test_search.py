"""Query words, inert FTS expressions and name corrections."""

from __future__ import annotations

import pytest

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
