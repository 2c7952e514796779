"""The channel card's abstract is cut where a reader expects: after a sentence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.render import trim_to_sentence


def test_cut_after_the_last_whole_sentence_that_fits() -> None:
    text = "First point here. Second point follows. " + "A very long third sentence " * 20
    assert trim_to_sentence(text, 60) == "First point here. Second point follows."


def test_a_long_first_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    text = "word " * 100
    cut = trim_to_sentence(text, 50)
    assert cut.endswith("word…") and len(cut) <= 50


def test_short_text_is_kept_whole_with_spaces_tidied() -> None:
    assert trim_to_sentence("  One.\n\nTwo.  ", 100) == "One. Two."


@given(st.text(max_size=2000), st.integers(min_value=10, max_value=500))
def test_never_longer_than_the_limit(text: str, limit: int) -> None:
    assert len(trim_to_sentence(text, limit)) <= limit
