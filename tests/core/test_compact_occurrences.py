"""The compact decoding of occurrences (shared repeated values) changes no value.

Parse results reach the bot's main process pickled from the parser child, and stored events
and cached groups come back from SQLite as JSON; both paths now share the values many events
repeat. Whatever comes out must equal what went in, field by field and type by type.
"""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import sharing
from bot.core.incremental import GroupResult
from bot.core.models import Occurrence, OccurrenceKey, SeminarDetails, SkippedEvent

_text = st.text(max_size=30)
_zones = st.sampled_from(["", "America/New_York", "Europe/Berlin", "UTC"])
_offsets = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=2))])


@st.composite
def _moments(draw: st.DrawFn) -> datetime:
    naive = draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
    return naive.replace(tzinfo=draw(_offsets), fold=draw(st.sampled_from([0, 0, 1])))


_instants = st.one_of(_moments(), st.dates(min_value=date(1990, 1, 1)))
_rule_pairs = st.tuples(
    st.sampled_from(["title", "speaker", "location", "abstract"]),
    st.sampled_from(["tec.description.sections", "summary.colon", "custom"]),
)

seminars = st.builds(
    SeminarDetails,
    series=st.sampled_from(["", "CS Seminar", "Colloquium"]),
    speaker=_text,
    affiliation=st.sampled_from(["", "MIT", "Oxford"]),
    title=_text,
    location=st.sampled_from(["", "Room 1", "Hall B-17"]),
    abstract=_text,
    bio=_text,
    video=st.sampled_from(["", "Watch seminar video."]),
    speakers=st.lists(_text, max_size=3).map(tuple),
    online_url=_text,
    rules=st.lists(_rule_pairs, max_size=4).map(tuple),
)

occurrences = st.builds(
    Occurrence,
    key=st.builds(OccurrenceKey, _text, st.sampled_from(["", "20260301T120000Z", "20260301"])),
    start=_instants,
    end=st.none() | _instants,
    timezone=_zones,
    timezone_assumed=st.booleans(),
    summary=_text,
    description=st.text(max_size=200),
    location=st.sampled_from(["", "Room 1", "Online"]),
    url=_text,
    status=st.sampled_from(["", "CONFIRMED", "CANCELLED", "TENTATIVE"]),
    categories=st.lists(st.sampled_from(["Talk", "Seminar", "Défense"]), max_size=3).map(tuple),
    last_modified=st.none() | _moments(),
    sequence=st.integers(min_value=0, max_value=10**6),
    seminar=st.one_of(st.just(SeminarDetails()), seminars),
)


def _fields(value: Any) -> list[tuple[str, type, Any]]:
    """Every field with its exact type, and for datetimes the parts equality ignores."""
    out: list[tuple[str, type, Any]] = []
    for name in type(value).__slots__:
        item = getattr(value, name)
        if isinstance(item, OccurrenceKey | SeminarDetails):
            out.extend((f"{name}.{n}", t, v) for n, t, v in _fields(item))
        elif isinstance(item, datetime):
            out.append((name, type(item), (item, item.tzinfo, item.fold)))
        elif isinstance(item, tuple):
            out.append((name, tuple, tuple((type(x), x) for x in item)))
        else:
            out.append((name, type(item), item))
    return out


@settings(max_examples=300, deadline=None)
@given(occurrences)
def test_an_occurrence_crosses_the_process_boundary_unchanged(occurrence: Occurrence) -> None:
    decoded = pickle.loads(pickle.dumps(occurrence, protocol=pickle.HIGHEST_PROTOCOL))
    assert decoded == occurrence
    assert _fields(decoded) == _fields(occurrence)


@settings(max_examples=200, deadline=None)
@given(occurrences)
def test_an_occurrence_read_back_from_the_store_is_what_was_stored(occurrence: Occurrence) -> None:
    once = Occurrence.from_dict(occurrence.to_dict())
    again = Occurrence.from_dict(once.to_dict())
    assert again == once
    assert _fields(again) == _fields(once)
    assert once.to_dict() == occurrence.to_dict()


def _exact(value: Any) -> Any:
    """A value with the parts equality ignores (type, zone, fold), for exact comparisons."""
    if isinstance(value, datetime):
        return (type(value), value, value.tzinfo, value.fold)
    return (type(value), value)


@st.composite
def _groups(draw: st.DrawFn) -> GroupResult:
    items = draw(st.lists(occurrences, max_size=4))
    spans = []
    for occurrence in items:
        own = occurrence.end is not None and draw(st.booleans())
        if own:
            assert occurrence.end is not None
            spans.append((occurrence.start, occurrence.end))
        else:  # equal instants in another zone must survive as they are
            begin = draw(st.sampled_from([occurrence.start, draw(_instants)]))
            if isinstance(begin, datetime) and draw(st.booleans()):
                begin = begin.astimezone(timezone(timedelta(hours=3)))
            spans.append((begin, draw(_instants)))
    uids = draw(st.sampled_from([[], [o.key.uid for o in items[:1]], ["a", "b"], ["x"]]))
    skipped = draw(st.sampled_from([(), (SkippedEvent("u", "too many occurrences", 3),)]))
    return GroupResult(tuple(items), tuple(spans), skipped, frozenset(uids))


def _group_view(group: GroupResult) -> Any:
    return (
        [_fields(o) for o in group.occurrences],
        [(_exact(a), _exact(b)) for a, b in group.spans],
        group.skipped,
        group.uids,
        sorted(group.uid_names()),
    )


@settings(max_examples=200, deadline=None)
@given(_groups())
def test_a_group_result_crosses_the_process_boundary_unchanged(group: GroupResult) -> None:
    decoded = pickle.loads(pickle.dumps(group, protocol=pickle.HIGHEST_PROTOCOL))
    assert decoded == group
    assert hash(decoded) == hash(group)
    assert _group_view(decoded) == _group_view(group)
    assert sorted(group.uid_names()) == sorted(group.uids)
    assert GroupResult.from_dict(group.to_dict()).to_dict() == group.to_dict()


@settings(max_examples=100, deadline=None)
@given(_groups())
def test_a_group_result_keeps_exactly_the_spans_and_uids_it_was_given(group: GroupResult) -> None:
    rebuilt = GroupResult(group.occurrences, group.spans, group.skipped, group.uids)
    assert _group_view(rebuilt) == _group_view(group)
    with pytest.raises(AttributeError):
        group.occurrences = ()  # type: ignore[misc]


def _talk(number: int) -> Occurrence:
    return Occurrence(
        OccurrenceKey(f"talk-{number}@example.edu"),
        datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=number),
        timezone="".join(["America/", "New_York"]),  # built, so never the same object
        location="".join(["Hall ", "B-17"]),
        status="".join(["CONF", "IRMED"]),
        last_modified=datetime(2026, 1, 2, 12, tzinfo=UTC),
        seminar=SeminarDetails(
            series="".join(["CS ", "Seminar"]),
            title=f"Talk {number}",
            rules=(("title", "".join(["summary.", "colon"])),),
        ),
    )


def test_separately_decoded_events_share_their_repeated_values() -> None:
    first, second = (pickle.loads(pickle.dumps(_talk(n))) for n in (1, 2))
    assert first.timezone is second.timezone
    assert first.location is second.location
    assert first.status is second.status
    assert first.last_modified is second.last_modified
    assert first.seminar.series is second.seminar.series
    assert first.seminar.rules is second.seminar.rules
    stored = Occurrence.from_dict(_talk(3).to_dict())
    assert stored.timezone is first.timezone
    assert stored.seminar.rules is first.seminar.rules
    assert Occurrence.from_dict(_talk(4).to_dict()).seminar.rules is stored.seminar.rules


def test_a_full_memo_starts_over_and_still_hands_back_equal_values() -> None:
    values = [(f"field{n}", "rule") for n in range(sharing.MEMO_LIMIT + 5)]
    shared = [sharing.strings((pair,)) for pair in values]
    assert shared == [(pair,) for pair in values]
    moments = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n) for n in range(50)]
    assert [sharing.moment(m) for m in moments] == moments
    folded = datetime(2026, 11, 1, 1, 30, tzinfo=UTC, fold=1)
    assert sharing.moment(folded) is folded
    zoned = datetime(2026, 1, 1, 7, tzinfo=timezone(timedelta(hours=-5)))
    assert sharing.moment(zoned) is zoned
