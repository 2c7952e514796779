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
    result = outcome(path)
    assert isinstance(result, ParsedFeed)
    assert result.occurrences
    for occ in result.occurrences:
        seminar = occ.seminar
        if seminar.speaker or seminar.title:
            assert seminar.series and occ.summary.startswith(seminar.series)
            assert seminar.title in occ.summary
        if seminar.speaker:
            assert seminar.speaker in occ.summary
            assert "\n" not in seminar.speaker
        if seminar.abstract or seminar.bio:
            assert occ.description.startswith(("Location", "Abstract", "Bio", "Video"))
