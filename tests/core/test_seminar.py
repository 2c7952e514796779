"""Seminar fields are recovered only when the text clearly follows the pattern."""

from __future__ import annotations

import pytest

from bot.core.seminar import extract_seminar

SEED_SUMMARY = (
    "CS Seminar: Michael Mahoney, ICSI and Department of Statistics, University of California "
    "at Berkeley – “Why Deep Learning Works: Traditional and Heavy-Tailed Implicit "
    "Self-Regularization in Deep Neural Networks”"
)


def test_full_pattern_gives_speaker_affiliation_and_title() -> None:
    details = extract_seminar(SEED_SUMMARY, "", "")
    assert details.series == "CS Seminar"
    assert details.speaker == "Michael Mahoney"
    assert details.affiliation == (
        "ICSI and Department of Statistics, University of California at Berkeley"
    )
    assert details.title.startswith("Why Deep Learning Works: Traditional")
    assert details.title.endswith("Deep Neural Networks")


def test_no_dash_or_quotes_means_everything_after_the_label_is_the_title() -> None:
    details = extract_seminar("CS Seminar: Graph Algorithms Today", "", "")
    assert (details.series, details.speaker, details.title) == (
        "CS Seminar",
        "",
        "Graph Algorithms Today",
    )


def test_no_comma_means_no_affiliation() -> None:
    details = extract_seminar("CS Seminar: Ada Lovelace – “Engines”", "", "")
    assert (details.speaker, details.affiliation, details.title) == ("Ada Lovelace", "", "Engines")


@pytest.mark.parametrize(
    "summary",
    [
        "Board Meeting: budget review",
        "10:30: coffee",
        "Deerfield Family Days",
        "CANCELLED--History of Philosophy – “Kant”",
    ],
)
def test_without_a_series_label_nothing_is_guessed(summary: str) -> None:
    details = extract_seminar(summary, "", "")
    assert (details.series, details.speaker, details.affiliation, details.title) == ("",) * 4


def test_glued_description_sections() -> None:
    desc = (
        "LocationHackerman Hall B-17AbstractWe study 5+1 phases. It works.BioJane Doe is at "
        "MIT.VideoWatch seminar video."
    )
    details = extract_seminar("CS Seminar: X", desc, "")
    assert details.location == "Hackerman Hall B-17"
    assert details.abstract == "We study 5+1 phases. It works."
    assert details.bio == "Jane Doe is at MIT."
    assert details.video == "Watch seminar video."


def test_description_location_is_not_used_when_location_is_set() -> None:
    desc = "LocationRoom 1AbstractText."
    assert extract_seminar("CS Seminar: X", desc, "Main Hall").location == ""


@pytest.mark.parametrize(
    "desc",
    [
        "This talk covers Location privacy. AbstractThinking is hard.",
        "AbstractOnly one heading here.",
        "Biology and Video games are fun.",
        "",
    ],
)
def test_descriptions_not_in_the_pattern_leave_sections_empty(desc: str) -> None:
    details = extract_seminar("CS Seminar: X", desc, "")
    assert (details.location, details.abstract, details.bio, details.video) == ("",) * 4
