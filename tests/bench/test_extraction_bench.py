"""The extraction scorer runs, and our labelled set stays above the bar the release promises."""

from __future__ import annotations

import pytest

from bench import extraction
from bench.extraction import FIELDS, Score, score_set


def _total(scores: dict[str, Score]) -> Score:
    total = Score()
    for score in scores.values():
        total.add(score)
    return total


def test_our_set_is_big_and_varied_enough() -> None:
    scores = score_set(extraction.OUR_SET / "labels.toml", extraction.OUR_SET)
    total = _total(scores)
    assert len(scores) >= 10
    assert total.talks >= 80 and total.non_talks >= 10


def test_every_field_reaches_95_percent_and_no_non_talk_gets_a_speaker() -> None:
    total = _total(score_set(extraction.OUR_SET / "labels.toml", extraction.OUR_SET))
    assert total.non_talks_with_speaker == 0, total.misses
    for name in FIELDS:
        assert total.percent(name) >= 95.0, (name, total.misses)


def test_hand_labelled_corpus_feeds_read_right() -> None:
    if not (extraction.CORPUS_LABELS.exists() and extraction.CORPUS_DIR.is_dir()):
        pytest.skip("shared corpus not present")
    total = _total(score_set(extraction.CORPUS_LABELS, extraction.CORPUS_DIR))
    assert total.talks >= 5
    assert total.non_talks_with_speaker == 0, total.misses
    for name in FIELDS:
        assert total.percent(name) >= 90.0, (name, total.misses)


def test_the_command_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert extraction.main([]) == 0
    out = capsys.readouterr().out
    for name in FIELDS:
        assert f"extraction_{name}: " in out
    assert "non_talks_with_speaker: 0" in out


HOLDOUT = extraction.ROOT / "tests" / "fixtures" / "extraction_holdout"


def test_held_out_set_reaches_90_percent_and_invents_no_speaker() -> None:
    """A set written apart from the rules (and never tuned on) keeps the rules honest."""
    scores = score_set(HOLDOUT / "labels.toml", HOLDOUT)
    total = _total(scores)
    assert len(scores) >= 10
    assert total.talks >= 60 and total.non_talks >= 15
    assert total.non_talks_with_speaker == 0, total.misses
    for name in FIELDS:
        assert total.percent(name) >= 90.0, (name, total.misses)
