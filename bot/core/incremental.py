"""Parse only what changed: the pure half of the incremental poll.

A feed is split into VEVENT groups (:mod:`bot.core.blocks`). Each group is parsed over an
*expansion horizon* a little wider than the poll window, and its raw, undeduplicated
occurrences are remembered under the group's digest. A later poll re-parses only the groups
whose digest is new and rebuilds the window's occurrences from the rest by repeating the
parser's own window test on the remembered spans — exactly what a full parse would return.

Everything is recomputed when the header or a VTIMEZONE changes (the *context* digest), when
the window leaves the horizon, or under a new :data:`PARSER_VERSION`; anything odd (several
calendars, unbalanced blocks, a UID spread over groups, caps in reach, a group with skipped
events or duplicate keys) falls back to a full parse or to parsing that group over the exact
window. The equivalence tests compare both paths on every corpus file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from recurring_ical_events.util import time_span_contains_event

from bot.core.blocks import Group, SplitFeed, SplitMemo, group_body, split_feed
from bot.core.charset import to_utf8
from bot.core.fast_vevent import parse_simple_groups
from bot.core.models import (
    Instant,
    Occurrence,
    OccurrenceKey,
    ParsedFeed,
    SkippedEvent,
    instant_from_json,
    instant_to_json,
    sort_key,
)
from bot.core.parse import ParseLimits, UidParseResult, parse_by_uid, parse_feed
from bot.core.parse import _dedupe as dedupe_occurrences
from bot.core.text import clean_line
from bot.errors import FeedError

__all__ = [
    "HORIZON_EXTRA",
    "PARSER_VERSION",
    "CacheView",
    "GroupResult",
    "Outcome",
    "assemble",
    "parse_changed",
    "settings_key",
]

#: Bump whenever parsing changes what an occurrence looks like: stored groups are then ignored.
PARSER_VERSION = 2
#: How far beyond the window end groups are expanded, so the window can move for a while.
HORIZON_EXTRA = timedelta(days=14)

Meta = tuple[str, str, str]  # calendar name, calendar time zone, producer
_DEFAULT_LIMITS = ParseLimits()
#: Groups parsed per icalendar call: bounds the child's memory on huge feeds.
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group's raw parse over the horizon (or the exact window, when volatile)."""

    occurrences: tuple[Occurrence, ...] = ()
    spans: tuple[tuple[Instant, Instant], ...] = ()
    skipped: tuple[SkippedEvent, ...] = ()
    uids: frozenset[str] = frozenset()

    @property
    def volatile(self) -> bool:
        """Results that may depend on the window beyond the span test: never reused."""
        if self.skipped:
            return True
        keys = [o.key for o in self.occurrences]
        return len(set(keys)) != len(keys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "o": [o.to_dict() for o in self.occurrences],
            "s": [[instant_to_json(a), instant_to_json(b)] for a, b in self.spans],
            "k": [s.to_dict() for s in self.skipped],
            "u": sorted(self.uids),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupResult:
        spans: list[tuple[Instant, Instant]] = []
        for a, b in data["s"]:
            begin, end = instant_from_json(a), instant_from_json(b)
            if begin is None or end is None:
                raise ValueError("stored span without bounds")
            spans.append((begin, end))
        return cls(
            tuple(Occurrence.from_dict(o) for o in data["o"]),
            tuple(spans),
            tuple(SkippedEvent.from_dict(s) for s in data["k"]),
            frozenset(str(u) for u in data["u"]),
        )


@dataclass(frozen=True, slots=True)
class CacheView:
    """What the child needs to know about the stored groups of a feed."""

    context: bytes
    horizon_start: datetime
    horizon_end: datetime
    known: frozenset[bytes]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The child's answer: a full parse, or the groups in order plus the ones it parsed."""

    full: ParsedFeed | None = None
    context: bytes = b""
    horizon: tuple[datetime, datetime] | None = None
    #: True when stored groups must be dropped (new context or horizon).
    reset: bool = False
    order: tuple[bytes, ...] = ()
    #: Freshly parsed over the horizon: store these.
    new: dict[bytes, GroupResult] = field(default_factory=dict)
    #: Volatile groups parsed over the exact window: use once, never store.
    exact: dict[bytes, GroupResult] = field(default_factory=dict)
    meta: Meta | None = None
    event_count: int = 0


def settings_key(default_timezone: str, limits: ParseLimits) -> bytes:
    """Everything besides the body that decides a parse."""
    text = f"{PARSER_VERSION}\x00{default_timezone}\x00{limits!r}"
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _context(split: SplitFeed, default_timezone: str, limits: ParseLimits) -> bytes:
    return hashlib.blake2b(
        settings_key(default_timezone, limits) + split.header_digest, digest_size=16
    ).digest()


def _expected_uid(uid_line: bytes) -> str | None:
    """The UID the parser will read from this line, when that is unambiguous."""
    line = uid_line.replace(b"\r\n", b"\n").replace(b"\n ", b"").replace(b"\n\t", b"")
    if line[:4].lower() != b"uid:":
        return None
    try:
        value = line[4:].rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\\" in value or "\n" in value:
        return None
    return clean_line(value, 255) or None


def _from_uid_parse(parsed: UidParseResult, uids: Iterable[str]) -> GroupResult:
    occurrences: list[Occurrence] = []
    spans: list[tuple[Instant, Instant]] = []
    skipped: list[SkippedEvent] = []
    found: set[str] = set()
    for uid in uids:
        part = parsed.by_uid.get(uid)
        if part is None:
            continue
        found.add(uid)
        occurrences.extend(part.occurrences)
        spans.extend(part.spans)
        skipped.extend(part.skipped)
    return GroupResult(tuple(occurrences), tuple(spans), tuple(skipped), frozenset(found))


def _parse_groups(
    split: SplitFeed,
    groups: Sequence[Group],
    window: tuple[datetime, datetime],
    default_timezone: str,
    limits: ParseLimits,
) -> tuple[dict[bytes, GroupResult], Meta]:
    """Parse ``groups`` (in one batch where their UIDs are plain, else one by one)."""

    def run(selected: Sequence[Group]) -> UidParseResult:
        return parse_by_uid(
            group_body(split, selected),
            window_start=window[0],
            window_end=window[1],
            default_timezone=default_timezone,
            limits=limits,
        )

    fast = parse_simple_groups(split, groups, window, default_timezone, limits)
    groups = [g for g in groups if g.digest not in fast.results]
    results: dict[bytes, GroupResult] = {}
    meta: Meta | None = fast.meta
    expected = {g.digest: _expected_uid(g.uid_line) for g in groups}
    plain = [g for g in groups if expected[g.digest] is not None]
    alone = [g for g in groups if expected[g.digest] is None]
    # In batches: one icalendar tree of a whole 50,000-event feed would not fit the child's cap.
    for index in range(0, len(plain), _BATCH):
        batch = plain[index : index + _BATCH]
        parsed = run(batch)
        meta = meta or (parsed.calendar_name, parsed.calendar_timezone, parsed.producer)
        owners = {expected[g.digest]: g.digest for g in batch}
        if set(parsed.by_uid) <= owners.keys() and len(owners) == len(batch):
            for group in batch:
                uid = expected[group.digest]
                assert uid is not None
                results[group.digest] = _from_uid_parse(parsed, [uid])
        else:  # the parser read some UID differently: attribute by parsing each group alone
            alone = list(groups)
            results.clear()
            break
    for group in alone:
        parsed = run([group])
        meta = meta or (parsed.calendar_name, parsed.calendar_timezone, parsed.producer)
        results[group.digest] = _from_uid_parse(parsed, list(parsed.by_uid))
    if meta is None:
        parsed = run([])
        meta = (parsed.calendar_name, parsed.calendar_timezone, parsed.producer)
    results.update((d, GroupResult(o, s, (), u)) for d, (o, s, u) in fast.results.items())
    return results, meta


def _full(
    body: bytes,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str,
    limits: ParseLimits,
) -> Outcome:
    return Outcome(
        full=parse_feed(
            body,
            window_start=window_start,
            window_end=window_end,
            default_timezone=default_timezone,
            limits=limits,
        )
    )


def parse_changed(
    body: bytes,
    *,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str = "UTC",
    limits: ParseLimits = _DEFAULT_LIMITS,
    cache: CacheView | None = None,
    splits: SplitMemo | None = None,
) -> Outcome:
    """Parse the groups of ``body`` that ``cache`` does not hold (runs in the parser child).

    ``splits`` remembers earlier splits, so a body much like an earlier one is split at the
    cost of what changed. Raises exactly what :func:`parse_feed` raises: every failure is
    settled by a full parse.
    """
    if len(body) > limits.max_bytes:
        return _full(body, window_start, window_end, default_timezone, limits)
    body = to_utf8(body)  # the splitter reads ASCII-compatible bytes
    if splits is not None:
        split = splits.split(
            body, max_vevents=limits.max_vevents, max_nesting=limits.max_nesting
        )
    else:
        split = split_feed(body, max_vevents=limits.max_vevents, max_nesting=limits.max_nesting)
    if split is None:
        return _full(body, window_start, window_end, default_timezone, limits)
    context = _context(split, default_timezone, limits)
    reuse = (
        cache is not None
        and cache.context == context
        and cache.horizon_start <= window_start
        and window_end <= cache.horizon_end
    )
    if reuse:
        assert cache is not None
        horizon = (cache.horizon_start, cache.horizon_end)
        known = cache.known
    else:
        horizon = (window_start, window_end + HORIZON_EXTRA)
        known = frozenset()
    todo = [g for g in split.groups if g.digest not in known]
    new: dict[bytes, GroupResult] = {}
    exact: dict[bytes, GroupResult] = {}
    meta: Meta | None = None
    if todo or not reuse:
        try:
            parsed, meta = _parse_groups(split, todo, horizon, default_timezone, limits)
            volatile = [g for g in todo if parsed[g.digest].volatile]
            if volatile:
                exact, _ = _parse_groups(
                    split, volatile, (window_start, window_end), default_timezone, limits
                )
        except FeedError:
            return _full(body, window_start, window_end, default_timezone, limits)
        new = {d: r for d, r in parsed.items() if d not in exact}
    return Outcome(
        context=context,
        horizon=horizon,
        reset=not reuse,
        order=tuple(g.digest for g in split.groups),
        new=new,
        exact=exact,
        meta=meta,
        event_count=split.vevent_count,
    )


def _in_window(span: tuple[Instant, Instant], start: datetime, end: datetime) -> bool:
    """The parser's own window test (recurring-ical-events), with a fast path for the usual."""
    begin, finish = span
    if isinstance(begin, datetime) and isinstance(finish, datetime) and begin < finish:
        return begin < end and start < finish
    if isinstance(begin, date | datetime) and isinstance(finish, date | datetime):
        return bool(time_span_contains_event(start, end, begin, finish))
    return False  # pragma: no cover - spans are always instants


def assemble(
    order: Sequence[bytes],
    groups: Mapping[bytes, GroupResult],
    *,
    window_start: datetime,
    window_end: datetime,
    meta: Meta,
    event_count: int,
    limits: ParseLimits = _DEFAULT_LIMITS,
) -> ParsedFeed | None:
    """The window's ParsedFeed from per-group results; ``None`` when only a full parse will do."""
    seen_uids: set[str] = set()
    occurrences: list[Occurrence] = []
    skipped: list[SkippedEvent] = []
    for digest in order:
        result = groups.get(digest)
        if result is None or not result.uids.isdisjoint(seen_uids):
            return None  # a UID spread over groups: they interact, so parse it all at once
        seen_uids |= result.uids
        for occurrence, span in zip(result.occurrences, result.spans, strict=True):
            if _in_window(span, window_start, window_end):
                occurrences.append(occurrence)
        skipped.extend(result.skipped)
    if len(occurrences) > limits.max_occurrences:
        return None  # the full parse reports the cap
    return ParsedFeed(
        occurrences=dedupe_occurrences(occurrences),
        window_start=window_start,
        window_end=window_end,
        calendar_name=meta[0],
        calendar_timezone=meta[1],
        producer=meta[2],
        skipped=tuple(skipped),
        event_count=event_count,
    )


#: One remembered occurrence, ready for the window test: sort key, occurrence, span, and
#: whether the span is a plain timed interval (the fast test applies).
_Entry = tuple[tuple[datetime, OccurrenceKey], Occurrence, Instant, Instant, bool]


@dataclass(slots=True)
class _Flat:
    """The window-independent half of :func:`assemble` for one ``order``: every remembered
    occurrence sorted as the parser sorts, so a poll only filters by the window."""

    order: tuple[bytes, ...]
    #: None when the groups interact (a UID in several groups) or a group is missing.
    entries: list[_Entry] | None
    #: digest -> (its GroupResult, its entries): reused while the group is unchanged.
    memo: dict[bytes, tuple[GroupResult, list[_Entry]]]
    skipped: tuple[SkippedEvent, ...] = ()
    stale: bool = False
    #: For usable entries: which group holds each UID, and every key (for small patches).
    owners: dict[str, bytes] | None = None
    keys: set[OccurrenceKey] | None = None


#: Beyond this many new or dropped groups a poll rebuilds the flat list instead of patching.
_PATCH_LIMIT = 500


def _entries(result: GroupResult) -> list[_Entry]:
    out: list[_Entry] = []
    for occurrence, (begin, finish) in zip(result.occurrences, result.spans, strict=True):
        plain = isinstance(begin, datetime) and isinstance(finish, datetime) and begin < finish
        out.append(((sort_key(occurrence.start), occurrence.key), occurrence, begin, finish, plain))
    return out


def _patch(
    order: tuple[bytes, ...], groups: Mapping[bytes, GroupResult], previous: _Flat
) -> _Flat | None:
    """``previous`` with the few groups that came and went swapped in and out, or ``None``
    when only a rebuild can tell (a UID or key now shared, skipped events, many changes).

    Consumes ``previous`` (its memo, owners and keys are reused in place)."""
    memo, owners, keys = previous.memo, previous.owners, previous.keys
    if previous.entries is None or previous.skipped or owners is None or keys is None:
        return None
    added: list[bytes] = []
    for digest in order:
        known = memo.get(digest)
        if known is None or groups.get(digest) is not known[0]:
            added.append(digest)
            if len(added) > _PATCH_LIMIT:
                return None
    wanted = set(order)
    if len(wanted) != len(order):
        return None
    dropped = [d for d in memo if d not in wanted]
    dropped.extend(d for d in added if d in memo)
    if len(dropped) > _PATCH_LIMIT:
        return None
    gone: set[int] = set()
    for digest in dropped:
        result, group_entries = memo.pop(digest)
        for uid in result.uids:
            owners.pop(uid, None)
        for entry in group_entries:
            keys.discard(entry[0][1])
            gone.add(id(entry))
    fresh: list[_Entry] = []
    for digest in added:
        incoming = groups.get(digest)
        if incoming is None or incoming.skipped:
            return None
        for uid in incoming.uids:
            if uid in owners:
                return None
            owners[uid] = digest
        group_entries = _entries(incoming)
        for entry in group_entries:
            if entry[0][1] in keys:
                return None
            keys.add(entry[0][1])
        memo[digest] = (incoming, group_entries)
        fresh.extend(group_entries)
    entries = [e for e in previous.entries if id(e) not in gone] if gone else previous.entries
    entries.extend(fresh)
    entries.sort(key=itemgetter(0))
    return _Flat(order, entries, memo, (), owners=owners, keys=keys)


def _flatten(
    order: tuple[bytes, ...], groups: Mapping[bytes, GroupResult], previous: _Flat | None
) -> _Flat:
    if previous is not None:
        patched = _patch(order, groups, previous)
        if patched is not None:
            return patched
    memo: dict[bytes, tuple[GroupResult, list[_Entry]]] = {}
    entries: list[_Entry] = []
    seen_uids: set[str] = set()
    skipped: list[SkippedEvent] = []
    old = previous.memo if previous is not None else {}
    usable = True
    for digest in order:
        result = groups.get(digest)
        if result is None or not result.uids.isdisjoint(seen_uids):
            usable = False
            break
        seen_uids |= result.uids
        known = old.get(digest)
        group_entries = known[1] if known is not None and known[0] is result else _entries(result)
        memo[digest] = (result, group_entries)
        entries.extend(group_entries)
        skipped.extend(result.skipped)
    if not usable:
        return _Flat(order, None, memo)
    keys = [entry[0][1] for entry in entries]
    key_set = set(keys)
    if len(key_set) != len(keys):
        return _Flat(order, None, memo)  # duplicates: the parser's own dedupe decides
    entries.sort(key=itemgetter(0))
    owners = {uid: digest for digest, (result, _) in memo.items() for uid in result.uids}
    return _Flat(order, entries, memo, tuple(skipped), owners=owners, keys=key_set)


@dataclass(slots=True)
class FeedState:
    """The remembered groups of one feed (mutable; owned by one thread at a time)."""

    context: bytes
    horizon_start: datetime
    horizon_end: datetime
    meta: Meta
    order: tuple[bytes, ...] = ()
    event_count: int = 0
    groups: dict[bytes, GroupResult] = field(default_factory=dict)
    #: ``"c:"`` + :func:`~bot.core.blocks.content_digest` hex of the last body absorbed, for
    #: the unchanged-but-for-stamps short cut.
    body_hash: str = ""
    settings: bytes = b""
    #: Not persisted; rebuilt whenever ``order`` is replaced.
    flat: _Flat | None = field(default=None, compare=False, repr=False)

    def view(self) -> CacheView:
        return CacheView(self.context, self.horizon_start, self.horizon_end, frozenset(self.groups))

    def covers(self, window_start: datetime, window_end: datetime) -> bool:
        return self.horizon_start <= window_start and window_end <= self.horizon_end

    def assemble(
        self,
        window_start: datetime,
        window_end: datetime,
        limits: ParseLimits,
        exact: Mapping[bytes, GroupResult] | None = None,
    ) -> ParsedFeed | None:
        if not exact:
            return _assemble_flat(self, window_start, window_end, limits)
        groups: Mapping[bytes, GroupResult] = {**self.groups, **exact}
        return assemble(
            self.order,
            groups,
            window_start=window_start,
            window_end=window_end,
            meta=self.meta,
            event_count=self.event_count,
            limits=limits,
        )


def _assemble_flat(
    state: FeedState, window_start: datetime, window_end: datetime, limits: ParseLimits
) -> ParsedFeed | None:
    """:func:`assemble` over the remembered groups, at the cost of the window test alone."""
    flat = state.flat
    if flat is None or flat.stale or flat.order is not state.order:
        flat = state.flat = _flatten(state.order, state.groups, flat)
    if flat.entries is None:
        return assemble(
            state.order,
            state.groups,
            window_start=window_start,
            window_end=window_end,
            meta=state.meta,
            event_count=state.event_count,
            limits=limits,
        )
    occurrences = [
        entry[1]
        for entry in flat.entries
        if (
            (entry[2] < window_end and window_start < entry[3])
            if entry[4]
            else _in_window((entry[2], entry[3]), window_start, window_end)
        )
    ]
    if len(occurrences) > limits.max_occurrences:
        return None  # the full parse reports the cap
    return ParsedFeed(
        occurrences=tuple(occurrences),
        window_start=window_start,
        window_end=window_end,
        calendar_name=state.meta[0],
        calendar_timezone=state.meta[1],
        producer=state.meta[2],
        skipped=flat.skipped,
        event_count=state.event_count,
    )


def absorb(
    state: FeedState | None,
    outcome: Outcome,
    *,
    body_hash: str,
    settings: bytes,
) -> tuple[FeedState | None, set[bytes], set[bytes]]:
    """The next state after ``outcome``, plus the digests added and dropped (for persistence).

    A full parse leaves no state: the next poll starts over.
    """
    if outcome.full is not None or outcome.horizon is None:
        dropped = set(state.groups) if state else set()
        return None, set(), dropped
    if outcome.reset or state is None:
        if outcome.meta is None:  # pragma: no cover - a reset always parses the header
            return None, set(), set(state.groups) if state else set()
        old = set(state.groups) if state else set()
        state = FeedState(
            context=outcome.context,
            horizon_start=outcome.horizon[0],
            horizon_end=outcome.horizon[1],
            meta=outcome.meta,
        )
    else:
        old = set(state.groups)
    state.groups.update(outcome.new)
    wanted = set(outcome.order)
    dropped = {d for d in state.groups if d not in wanted}
    for digest in dropped:
        del state.groups[digest]
    state.order = outcome.order
    if state.flat is not None:
        state.flat.stale = True  # keep its per-group memo for the rebuild
    state.event_count = outcome.event_count
    state.body_hash = body_hash
    state.settings = settings
    return state, set(outcome.new), old - set(state.groups)
