"""Every real-world calendar either parses or fails with a specific, expected FeedError."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from bot.core.models import ParsedFeed, sort_key
from bot.core.parse import ParseLimits, parse_feed
from bot.errors import CalendarError, EmptyFeed, FeedError, NotACalendar
from tests.conftest import corpus_files

FILES = corpus_files()
LIMITS = ParseLimits(max_occurrences_per_series=50)  # keeps the wide window fast

#: Files that must be rejected, and as what. Everything else must parse (the parser rescues the
#: files with leading junk, stray LFs, raw newlines, a P15M duration, a +5328 offset, two TZIDs).
EXPECTED_REJECTIONS: dict[str, type[FeedError]] = {
    "communitycal__cityoflancasterpa.ics": NotACalendar,  # Cloudflare challenge page
    "communitycal__events_search_events_ics_ics.ics": NotACalendar,  # Localist 404 page
    "communitycal__meetup_lncphoto.ics": NotACalendar,  # Meetup JSON error body
    "icalendar__fuzz_testcase_vtimezone_lone_cr.ics": NotACalendar,  # fuzz bytes, no calendar
    "communitycal__stevensandsmithcenter.ics": EmptyFeed,  # 0-byte body
    "icalendar__big_bad_calendar.ics": CalendarError,  # no END:VCALENDAR: truncated
}


@cache
def outcome(path: Path) -> ParsedFeed | FeedError:
    try:
        return parse_feed(
            path.read_bytes(),
            window_start=datetime(1990, 1, 1, tzinfo=UTC),
            window_end=datetime(2040, 1, 1, tzinfo=UTC),
            limits=LIMITS,
        )
    except FeedError as exc:
        return exc


@pytest.mark.skipif(not FILES, reason="shared corpus not present")
def test_expected_rejections_exist_in_the_corpus() -> None:
    names = {path.name for path in FILES}
    assert set(EXPECTED_REJECTIONS) <= names


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_corpus_file_parses_or_fails_as_expected(path: Path) -> None:
    result = outcome(path)
    expected = EXPECTED_REJECTIONS.get(path.name)
    if expected is not None:
        assert type(result) is expected, result
        return
    assert isinstance(result, ParsedFeed), f"{type(result).__name__}: {result}"
    assert not any(s.reason.startswith("parser failure") for s in result.skipped)
    keys = [o.key for o in result.occurrences]
    assert len(keys) == len(set(keys)), "occurrence keys must be unique"
    assert [sort_key(o.start) for o in result.occurrences] == sorted(
        sort_key(o.start) for o in result.occurrences
    )
    for occ in result.occurrences:
        if isinstance(occ.start, datetime):
            assert occ.start.utcoffset() is not None
        assert len(occ.summary) <= LIMITS.max_summary
        assert len(occ.description) <= LIMITS.max_description
        assert occ.url == "" or occ.url.lower().startswith(("http://", "https://"))
        assert "<p>" not in occ.description.lower() and "&amp;" not in occ.summary
    assert ParsedFeed.from_dict(result.to_dict()) == result


def _tec_files() -> list[Path]:
    return [p for p in FILES if b"ECPv" in p.read_bytes()[:2000]]


@pytest.mark.parametrize("path", _tec_files(), ids=[p.name for p in _tec_files()])
def test_events_calendar_files_give_sensible_seminar_fields(path: Path) -> None:
    """Every field read comes with its rule, and every speaker is written in the event itself."""
    result = outcome(path)
    assert isinstance(result, ParsedFeed)
    assert result.occurrences
    for occ in result.occurrences:
        seminar = occ.seminar
        for name in ("series", "speaker", "affiliation", "title", "location", "abstract", "bio"):
            if getattr(seminar, name):
                assert seminar.rule_for(name), (name, occ.summary)
        if seminar.speaker:
            assert "\n" not in seminar.speaker
            text = f"{occ.summary}\n{occ.description}".casefold()
            assert all(name.casefold() in text for name in seminar.speakers)
            assert seminar.speaker == " and ".join(seminar.speakers) or len(seminar.speakers) > 2
        if seminar.title:
            assert "\n" not in seminar.title


#: Occurrences given a speaker, per corpus file (1990–2040 window). The first release found one
#: (the seed's); every one listed here was checked by hand to be a real talk and its speaker.
SPEAKERS_PER_FILE = {
    "calagator__events-apple.ics": 2,
    "communitycal__calendar_index_ics.ics": 1,
    "communitycal__events_livewhale_64.ics": 1,
    "communitycal__gardinermuseum.ics": 1,
    "communitycal__philosophy.2026-03-09T2108.ics": 8,
    "communitycal__philosophy.2026-03-10T0241.ics": 8,
    "communitycal__philosophy.2026-03-11T0235.ics": 8,
    "communitycal__philosophy.2026-03-12T0247.ics": 8,
    "communitycal__philosophy.2026-03-14T0243.ics": 6,
    "communitycal__philosophy.2026-03-17T0251.ics": 6,
    "communitycal__philosophy.2026-08-22T0223.ics": 5,
    "seed__jhu-cs-seminar.ics": 1,
    "ucicrawl__c-mohan-2.ics": 1,
}


def _parsed(name: str) -> ParsedFeed:
    matches = [p for p in FILES if p.name == name]
    if not matches:
        pytest.skip(f"{name} not in the shared corpus")
    result = outcome(matches[0])
    assert isinstance(result, ParsedFeed)
    return result


@pytest.mark.skipif(not FILES, reason="shared corpus not present")
def test_speakers_are_found_only_in_the_talks_of_the_corpus() -> None:
    found: dict[str, int] = {}
    for path in FILES:
        result = outcome(path)
        if isinstance(result, ParsedFeed):
            count = sum(1 for occ in result.occurrences if occ.seminar.speaker)
            if count:
                found[path.name] = count
    assert found == SPEAKERS_PER_FILE
    assert sum(found.values()) == 56


def test_uc_irvine_talk_title_is_the_title_line_not_the_speakers_name() -> None:
    (talk,) = _parsed("ucicrawl__c-mohan-2.ics").occurrences
    assert talk.summary == "C. MOHAN"
    assert talk.title == (
        "Big Data: Hype and Reality & Modern Database Systems: Modernized Classic Systems, "
        "NewSQL and NoSQL"
    )
    assert talk.seminar.speakers == ("C. MOHAN",)
    assert talk.seminar.affiliation == "IBM Almaden Research Center"
    assert talk.seminar.rule_for("title") == "label.title.title"


def test_toronto_talk_title_comes_from_the_body_and_the_group_blurb_is_not_the_abstract() -> None:
    talks = {
        o.summary: o for o in _parsed("communitycal__philosophy.2026-03-09T2108.ics").occurrences
    }
    talk = talks["Logic and Philosophy of Science Group Talk (Sorin Bangu, Bergen)"]
    assert talk.title == "The Odd Couple: later Wittgenstein and Quine on the Existence of Numbers"
    assert (talk.seminar.speaker, talk.seminar.affiliation) == ("Sorin Bangu", "Bergen")
    assert talk.seminar.series == "Logic and Philosophy of Science Group Talk"
    assert talk.seminar.abstract.startswith("The aim of this talk")
    assert "One of six departmental" not in talk.seminar.abstract
    later = {
        o.summary: o for o in _parsed("communitycal__philosophy.2026-08-22T0223.ics").occurrences
    }
    assert later["The courtesy of phenomenology"].seminar.speaker == "Jocelyn Benoist"
    assert later["The courtesy of phenomenology"].title == "The courtesy of phenomenology"


def test_the_sample_still_reads_as_before() -> None:
    (talk,) = _parsed("seed__jhu-cs-seminar.ics").occurrences
    assert talk.seminar.speaker == "Michael Mahoney"
    assert talk.seminar.affiliation == (
        "ICSI and Department of Statistics, University of California at Berkeley"
    )
    assert talk.title.startswith("Why Deep Learning Works: Traditional and Heavy-Tailed")
    assert talk.place == "Hackerman Hall B-17"
