"""The parser child's half: parse only the groups of a body the cache does not hold.

Runs in the killable parser process (``feeds/isolate.ParserPool.parse_incremental``). Every
failure, and every body the splitter is unsure of, is settled by a full parse.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.core.charset import to_utf8
from bot.core.fast_vevent import parse_simple_groups
from bot.core.incremental.blocks import Group, SplitFeed, group_body
from bot.core.incremental.results import (
    HORIZON_EXTRA,
    CacheView,
    GroupResult,
    Meta,
    Outcome,
    settings_key,
)
from bot.core.incremental.split import SplitMemo, split_feed
from bot.core.models import Instant, Occurrence, SkippedEvent
from bot.core.parse import ParseLimits, UidParseResult, parse_by_uid, parse_feed
from bot.core.text import clean_line
from bot.errors import FeedError

_DEFAULT_LIMITS = ParseLimits()
#: Groups parsed per icalendar call: bounds the child's memory on huge feeds.
_BATCH = 1000


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
    received = body
    body = to_utf8(body)  # the splitter reads ASCII-compatible bytes
    split = _split(body, limits, splits)
    if split is None:
        return _full(body, window_start, window_end, default_timezone, limits)
    context = _context(split, default_timezone, limits)
    window = (window_start, window_end)
    reused = _reusable(cache, context, window)
    horizon, known = reused or ((window_start, window_end + HORIZON_EXTRA), frozenset())
    digests = split.digests
    unknown = map(operator.not_, map(known.__contains__, digests))  # at C level: thousands
    todo = split.groups_at(itertools.compress(range(len(digests)), unknown))
    new: dict[bytes, GroupResult] = {}
    exact: dict[bytes, GroupResult] = {}
    meta: Meta | None = None
    if todo or reused is None:
        try:
            new, exact, meta = _parse_todo(split, todo, horizon, window, default_timezone, limits)
        except FeedError:
            return _full(body, window_start, window_end, default_timezone, limits)
    return Outcome(
        context=context,
        horizon=horizon,
        reset=reused is None,
        order=digests,
        new=new,
        exact=exact,
        meta=meta,
        event_count=split.vevent_count,
        single_stamp=split.clean and split.data is received,
    )


def _split(body: bytes, limits: ParseLimits, splits: SplitMemo | None) -> SplitFeed | None:
    if splits is not None:
        return splits.split(body, max_vevents=limits.max_vevents, max_nesting=limits.max_nesting)
    return split_feed(body, max_vevents=limits.max_vevents, max_nesting=limits.max_nesting)


def _reusable(
    cache: CacheView | None, context: bytes, window: tuple[datetime, datetime]
) -> tuple[tuple[datetime, datetime], frozenset[bytes]] | None:
    """The cached horizon and group digests, when the cache still holds for this window."""
    if cache is None or cache.known is None or cache.context != context:
        return None  # (a lean view the child could not resolve never gets here)
    if not (cache.horizon_start <= window[0] and window[1] <= cache.horizon_end):
        return None
    return (cache.horizon_start, cache.horizon_end), cache.known


def _parse_todo(
    split: SplitFeed,
    todo: Sequence[Group],
    horizon: tuple[datetime, datetime],
    window: tuple[datetime, datetime],
    default_timezone: str,
    limits: ParseLimits,
) -> tuple[dict[bytes, GroupResult], dict[bytes, GroupResult], Meta]:
    """The groups to store (parsed over the horizon) and the volatile ones (parsed again
    over the exact window, used once), plus the calendar's meta."""
    parsed, meta = _parse_groups(split, todo, horizon, default_timezone, limits)
    volatile = [g for g in todo if parsed[g.digest].volatile]
    exact: dict[bytes, GroupResult] = {}
    if volatile:
        exact, _ = _parse_groups(split, volatile, window, default_timezone, limits)
    new = {d: r for d, r in parsed.items() if d not in exact}
    return new, exact, meta
