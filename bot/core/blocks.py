"""Split a feed body into VEVENT blocks at the bytes level and hash them, without parsing.

The incremental poll parses only blocks it has not seen before, so it must find block
boundaries far more cheaply than icalendar can. Every boundary found here must be the one the
tolerant scanner in :mod:`bot.core.parse` would find; whenever that is in doubt (several
calendars, unbalanced or folded BEGIN/END lines, deep nesting, a truncated body) the splitter
gives up and returns ``None`` so the caller falls back to a full parse. Correctness first.

Blocks sharing a UID line (an RRULE master and its RECURRENCE-ID overrides, or The Events
Calendar's duplicates) form one :class:`Group`, the unit that is parsed and cached. A group's
digest leaves DTSTAMP lines out: they change on every export and never reach an occurrence.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Group", "SplitFeed", "SplitMemo", "content_digest", "group_body", "split_feed"]

_BEGIN_CAL = re.compile(rb"BEGIN:VCALENDAR", re.IGNORECASE)
# Searched in the lower-cased body; every BEGIN/END line starts right after a newline.
_MARKER = re.compile(rb"\n(begin|end):([^\n]*)")
# Only a well-formed stamp is left out: a broken value could change how the block parses.
# (Other spellings simply stay in the digest: over-sensitive is safe, under-sensitive is not.)
_DTSTAMP = re.compile(rb"DTSTAMP(?:;[A-Za-z0-9=/_+-]*)?:\d{8}T\d{6}Z?[ \t]*\r?\n(?![ \t])")
_UID = re.compile(rb"\nuid[;:]")
# A CR that does not end a line with LF: then every line end is settled to LF.
_LONE_CR = re.compile(rb"\r(?!\n)")
# A whole stamp line, anywhere in the body: the parser never reads DTSTAMP.
_STAMP_LINE = re.compile(
    rb"\nDTSTAMP(?:;[A-Za-z0-9=/_+-]*)?:\d{8}T\d{6}Z?[ \t]*\r?\n(?![ \t])"
)
_DIGEST_SIZE = 16


class Group(NamedTuple):
    """All VEVENT blocks of one UID line, in document order; the unit of incremental parsing.

    A named tuple: a re-split of a large feed builds one per group, and this is the cheapest."""

    digest: bytes
    #: The raw UID line the blocks share (b"" when they have none).
    uid_line: bytes
    #: (start, end) offsets of each block in :attr:`SplitFeed.data`.
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class SplitFeed:
    #: The body from ``BEGIN:VCALENDAR`` on (lone CRs turned into LFs).
    data: bytes
    #: Every byte of the calendar outside VEVENT blocks (properties, VTIMEZONE, ...).
    header: bytes
    header_digest: bytes
    groups: tuple[Group, ...]
    #: VEVENT components in the body, as the parser counts them.
    vevent_count: int
    #: The stamp line most blocks share (b"" when none can be trusted), see _group_digest.
    stamp_line: bytes = b""
    #: Starts of blocks whose digest a new stamp line could change: never reused.
    unsafe: frozenset[int] = frozenset()
    #: Where ``END:VCALENDAR`` starts in :attr:`data`.
    calendar_end: int = -1
    #: The nesting cap the split was made under (a reuse must be made under the same).
    max_nesting: int = 0
    #: Every VEVENT block as (start, end, UID line), in document order.
    blocks: tuple[tuple[int, int, bytes], ...] = ()


def _digest(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=_DIGEST_SIZE)
    for part in parts:
        h.update(part)
    return h.digest()


def _uid_key(block: bytes, low: bytes) -> bytes:
    """The raw UID line (with any folded continuation): equal keys ⇒ same group."""
    match = _UID.search(low)
    if match is None:
        return b""
    end = match.start() + 1
    while True:
        nl = block.find(b"\n", end)
        if nl < 0:
            return block[match.start() + 1 :].strip()
        end = nl + 1
        if end >= len(block) or block[end] not in b" \t":
            return block[match.start() + 1 : nl].strip()


def content_digest(body: bytes) -> bytes:
    """A hash of the body with its well-formed, unfolded DTSTAMP lines left out.

    Two bodies with the same digest differ only in stamp lines, which the parser never reads,
    so they parse identically: a poll whose body merely re-exported the same events needs no
    split, no child process and no parse. Exports usually stamp every event alike, so that one
    line is dropped in a single C-level ``replace`` (unless a copy of it is folded); the rest
    are found one by one.
    """
    first = _STAMP_LINE.search(body)
    if first is not None:
        line = first.group(0)
        if body.find(line + b" ") < 0 and body.find(line + b"\t") < 0:
            body = body.replace(line, b"\n")
    digest = hashlib.sha256()
    view = memoryview(body)
    cursor = 0
    position = body.find(b"\nDTSTAMP")
    while position >= 0:
        match = _STAMP_LINE.match(body, position)
        if match is not None:
            digest.update(view[cursor : position + 1])
            cursor = match.end()
        position = body.find(b"\nDTSTAMP", position + 8)
    digest.update(view[cursor:])
    return digest.digest()


def _calendar_data(body: bytes) -> tuple[bytes, int] | None:
    """The body from ``BEGIN:VCALENDAR`` on (line ends settled) and the end of its first line."""
    start = _BEGIN_CAL.search(body)
    if start is None or (start.start() > 0 and body[start.start() - 1] not in b"\r\n"):
        return None
    data = body[start.start() :]
    if _LONE_CR.search(data) is not None:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if data[:15].lower() != b"begin:vcalendar":
        return None
    first_nl = data.find(b"\n")
    if first_nl < 0 or data[15:first_nl].strip() != b"":
        return None
    if first_nl + 1 < len(data) and data[first_nl + 1] in b" \t":
        return None  # a folded BEGIN:VCALENDAR line
    return data, first_nl


def _stamp_line(data: bytes) -> bytes:
    """The first stamp line, when no copy of it is folded (b"" otherwise): exports usually
    stamp every event alike, so it marks the blocks whose digest a new stamp cannot change."""
    first = _STAMP_LINE.search(data)
    if first is None:
        return b""
    line = first.group(0)
    if data.find(line + b" ") >= 0 or data.find(line + b"\t") >= 0:
        return b""
    return line


_Scan = tuple[list[tuple[int, int]], int]


def _scan(
    low: bytes, base: int, data_len: int, max_nesting: int, *, to_end: bool
) -> _Scan | None:
    """VEVENT spans (offset by ``base``) of a lower-cased stretch that starts at top level
    right before a newline; with ``to_end`` it must close the calendar, else stay open."""
    stack = ["vcalendar"]
    vevents: list[tuple[int, int]] = []
    block_start = -1
    block_name = ""
    calendar_end = -1
    for match in _MARKER.finditer(low):
        line_start = match.start() + 1
        line_end = match.end() + 1  # past the newline (or one past the end of the data)
        if line_end < len(low) and low[line_end] in b" \t":
            return None  # a folded BEGIN/END line: leave it to the parser
        if not stack:
            if match.group(1) == b"begin" and match.group(2).strip() == b"vcalendar":
                return None  # several calendars
            continue
        name = match.group(2).strip().decode("latin-1")
        if match.group(1) == b"begin":
            if name == "vcalendar":
                return None
            stack.append(name)
            if len(stack) > max_nesting:
                return None
            if len(stack) == 2:
                block_start, block_name = line_start, name
            continue
        if stack[-1] != name:
            return None  # unbalanced or stray END: the scanner's repairs are its own business
        stack.pop()
        if len(stack) == 1:
            if block_name == "vevent":
                vevents.append((base + block_start, min(base + line_end, data_len)))
        elif not stack:
            calendar_end = base + line_start
    if to_end:
        if stack or calendar_end < 0:
            return None  # truncated: the full parse reports it
    elif stack != ["vcalendar"]:
        return None
    return vevents, calendar_end


def _group_digest(
    data: bytes, key: bytes, spans: Sequence[tuple[int, int]], stamp_line: bytes
) -> tuple[bytes, list[int]]:
    """The group's digest (stamps left out) and the starts of its blocks a new stamp line
    could affect (not exactly one copy of ``stamp_line``, as the stamp left out)."""
    h = hashlib.blake2b(digest_size=_DIGEST_SIZE)
    h.update(key)
    unsafe: list[int] = []
    for s, e in spans:
        h.update(b"\x00")
        stamp = data.find(b"\nDTSTAMP", s, e)
        found = _DTSTAMP.match(data, stamp + 1, e) if stamp >= 0 else None
        if found is None:
            h.update(data[s:e])
            unsafe.append(s)
        else:
            h.update(data[s : stamp + 1])
            h.update(data[found.end() : e])
            if not (
                stamp_line
                and found.end() == stamp + len(stamp_line)
                and data.startswith(stamp_line, stamp)
                and data.find(stamp_line, stamp + 1, e) < 0
            ):
                unsafe.append(s)
    return h.digest(), unsafe


def _assemble(
    data: bytes,
    vevents: Sequence[tuple[int, int, bytes]],
    calendar_end: int,
    stamp_line: bytes,
    max_nesting: int,
    reusable: Callable[[bytes, list[tuple[int, int]]], Group | None],
) -> SplitFeed:
    header_parts: list[bytes] = []
    cursor = 0
    grouped: dict[bytes, list[tuple[int, int]]] = {}
    for s, e, key in vevents:
        if s != cursor:
            header_parts.append(data[cursor:s])
        cursor = e
        spans = grouped.get(key)
        if spans is None:
            grouped[key] = [(s, e)]
        else:
            spans.append((s, e))
    header_parts.append(data[cursor:calendar_end])
    header = b"".join(header_parts)
    groups: list[Group] = []
    unsafe: list[int] = []
    for key, spans in grouped.items():
        kept = reusable(key, spans)
        if kept is not None:
            groups.append(kept)
            continue
        digest, risky = _group_digest(data, key, spans, stamp_line)
        unsafe.extend(risky)
        groups.append(Group(digest, key, tuple(spans)))
    return SplitFeed(
        data=data,
        header=header,
        header_digest=_digest(header),
        groups=tuple(groups),
        vevent_count=len(vevents),
        stamp_line=stamp_line,
        unsafe=frozenset(unsafe),
        calendar_end=calendar_end,
        max_nesting=max_nesting,
        blocks=tuple(vevents),
    )


def split_feed(
    body: bytes, *, max_vevents: int, max_nesting: int, previous: SplitFeed | None = None
) -> SplitFeed | None:
    """The body's VEVENT groups, or ``None`` when only a full parse can be trusted.

    With ``previous`` (an earlier split, usually of the same feed) only the stretch between
    the common prefix and suffix is scanned; the answer is the same as without it.
    """
    prepared = _calendar_data(body)
    if prepared is None:
        return None
    data, first_nl = prepared
    if previous is not None:
        quick = _split_since(data, first_nl, previous, max_vevents, max_nesting)
        if quick is not None:
            return quick
    scanned = _scan(data[first_nl:].lower(), first_nl, len(data), max_nesting, to_end=True)
    if scanned is None:
        return None
    spans, calendar_end = scanned
    if len(spans) > max_vevents:
        return None
    vevents = [(s, e, _uid_key(data[s:e], data[s:e].lower())) for s, e in spans]
    return _assemble(
        data, vevents, calendar_end, _stamp_line(data), max_nesting, lambda _k, _s: None
    )


#: Where exports start each event; the body is cut here to find what changed (a cheap guess:
#: every reused block is still checked against the old split's own boundaries).
_CUT = b"\nBEGIN:VEVENT"


def _runs(old: bytes, new: bytes) -> list[tuple[int, int, int]]:
    """Stretches equal in both bodies as (old start, new start, length), in order; each
    starts right after a newline and ends right after one (or at the end)."""
    old_chunks, new_chunks = old.split(_CUT), new.split(_CUT)
    count = len(old_chunks)
    if count == len(new_chunks):
        differ = list(itertools.compress(range(count), map(operator.ne, old_chunks, new_chunks)))
        bounds = [-1, *differ, count]
        stretches = [(i + 1, j, 0) for i, j in itertools.pairwise(bounds) if j > i + 1]
    else:  # events came or went: keep the common head and tail only
        limit = min(count, len(new_chunks))
        head = 0
        while head < limit and old_chunks[head] == new_chunks[head]:
            head += 1
        tail = 0
        while tail < limit - head and old_chunks[-1 - tail] == new_chunks[-1 - tail]:
            tail += 1
        delta = len(new_chunks) - count
        # The first chunk starts the body, the others a cut: never pair one with the other.
        stretches = [(0, head, 0), (max(count - tail, 1, 1 - delta), count, delta)]
    step = len(_CUT)
    old_at = [0, *itertools.accumulate(len(c) + step for c in old_chunks)]
    new_at = [0, *itertools.accumulate(len(c) + step for c in new_chunks)]
    runs: list[tuple[int, int, int]] = []
    for first, stop, delta in stretches:
        if stop <= first:
            continue
        # Chunks from the "BEGIN" of the first one's cut through the newline of the next cut.
        o_start = old_at[first] - step + 1 if first else 0
        n_start = new_at[first + delta] - step + 1 if first + delta else 0
        o_end = min(old_at[stop] - step + 1, len(old))
        runs.append((o_start, n_start, o_end - o_start))
    return runs


def _split_since(
    data: bytes, first_nl: int, previous: SplitFeed, max_vevents: int, max_nesting: int
) -> SplitFeed | None:
    """The split of ``data`` reusing ``previous``'s blocks in stretches that did not change;
    ``None`` when in doubt (the caller then splits it all).

    A reused block keeps its bytes, its neighbours' bytes on either side, and starts at top
    level (every stretch between reused blocks of different runs is scanned again and must
    end at top level), so the scanner would find it again; its digest is kept only when its
    one stamp line is the stamp shared by both bodies (see :func:`_group_digest`).
    """
    old_line, new_line = previous.stamp_line, _stamp_line(data)
    if previous.max_nesting != max_nesting or previous.calendar_end < 0:
        return None
    if not old_line or len(new_line) != len(old_line):
        return None
    if new_line != old_line and previous.data.find(new_line) >= 0:
        return None
    # The old body as it would read with the new stamps: same offsets, comparable bytes.
    old = previous.data if new_line == old_line else previous.data.replace(old_line, new_line)
    runs = _runs(old, data)
    blocks = previous.blocks
    starts = [block[0] for block in blocks]
    ends = [block[1] for block in blocks]
    # Per run: the old blocks wholly inside it, as an index range, and its shift.
    ranges: list[tuple[int, int, int]] = []
    for o_start, n_start, length in runs:
        first = bisect.bisect_left(starts, o_start)
        stop = bisect.bisect_right(ends, o_start + length)
        if stop > first:
            ranges.append((first, stop, n_start - o_start))
    if not ranges:
        return None
    vevents: list[tuple[int, int, bytes]] = []
    changed: set[bytes] = set()

    def rescan(begin: int, stop: int, to_end: bool) -> int | None:
        """Scan data[begin:stop] again (begin follows a newline); the calendar end, if any."""
        if stop < begin:
            return None
        scanned = _scan(
            data[begin - 1 : stop].lower(), begin - 1, len(data), max_nesting, to_end=to_end
        )
        if scanned is None:
            return None
        for s, e in scanned[0]:
            key = _uid_key(data[s:e], data[s:e].lower())
            changed.add(key)
            vevents.append((s, e, key))
        return scanned[1]

    position = first_nl + 1
    done = 0  # old blocks before this index are kept or dropped
    for first, stop, shift in ranges:
        changed.update(block[2] for block in blocks[done:first])  # dropped
        if rescan(position, blocks[first][0] + shift, False) is None:
            return None
        if shift:
            vevents.extend((s + shift, e + shift, k) for s, e, k in blocks[first:stop])
        else:
            vevents.extend(blocks[first:stop])
        position, done = blocks[stop - 1][1] + shift, stop
    changed.update(block[2] for block in blocks[done:])
    calendar_end = rescan(position, len(data), True)
    if calendar_end is None or len(vevents) > max_vevents:
        return None
    old_groups = {g.uid_line: g for g in previous.groups}
    unsafe = previous.unsafe
    if unsafe:  # their groups are hashed again
        changed.update(block[2] for block in blocks if block[0] in unsafe)

    def reusable(key: bytes, spans: list[tuple[int, int]]) -> Group | None:
        if key in changed:
            return None
        group = old_groups[key]  # all its blocks kept, none dropped: the same blocks
        if spans[0] == group.spans[0] and (len(spans) == 1 or tuple(spans) == group.spans):
            return group
        return Group(group.digest, key, tuple(spans))

    return _assemble(data, vevents, calendar_end, new_line, max_nesting, reusable)


class SplitMemo:
    """The last few splits one parser process made, so the next body of a feed is split at
    the cost of what changed. Bounded by count and by the bytes of the bodies it holds."""

    def __init__(self, *, count: int = 3, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._count = count
        self._max_bytes = max_bytes
        self._recent: list[SplitFeed] = []

    def clear(self) -> None:
        self._recent.clear()

    def split(self, body: bytes, *, max_vevents: int, max_nesting: int) -> SplitFeed | None:
        """:func:`split_feed`, from the remembered split most alike at the start."""
        head = body[:_PROBE]
        previous = max(
            self._recent,
            key=lambda split: _common_prefix(split.data[:_PROBE], head),
            default=None,
        )
        split = split_feed(
            body, max_vevents=max_vevents, max_nesting=max_nesting, previous=previous
        )
        if previous is not None:
            self._recent.remove(previous)
        if split is not None:
            self._recent.insert(0, split)
        kept: list[SplitFeed] = []
        total = 0
        for item in self._recent[: self._count]:
            total += len(item.data)
            if kept and total > self._max_bytes:
                break
            kept.append(item)
        self._recent = kept
        return split


#: Bytes compared to pick the remembered split of the same feed.
_PROBE = 64 * 1024


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix, by binary search over C-level slice comparisons."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[low:mid] == b[low:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def group_body(split: SplitFeed, groups: Sequence[Group]) -> bytes:
    """A calendar holding the header and exactly ``groups``' blocks, in document order."""
    spans = sorted(span for group in groups for span in group.spans)
    parts = [split.header]
    if not split.header.endswith(b"\n"):
        parts.append(b"\r\n")
    for s, e in spans:
        parts.append(split.data[s:e])
        if not split.data[s:e].endswith(b"\n"):
            parts.append(b"\r\n")
    parts.append(b"END:VCALENDAR\r\n")
    return b"".join(parts)
