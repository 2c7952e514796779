"""``split_feed``: a body's VEVENT groups, reusing an earlier split of the same feed.

A feed body changes a little between polls. With the previous split at hand, only the stretches
that differ are scanned again (the rest keep their blocks and, where the stamp allows, their
digests); :class:`SplitMemo` keeps a parser process's last few splits for that. The answer is
always the one a fresh split gives.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterator, Sequence
from operator import itemgetter

from bot.core.incremental.blocks import (
    Reuse,
    SplitFeed,
    build_split,
    calendar_data,
    clean_piece,
    folded_piece,
    has_lone_cr,
    scan,
    stamp_pieces,
    uid_key,
)

__all__ = ["SplitMemo", "split_feed"]


def split_feed(
    body: bytes, *, max_vevents: int, max_nesting: int, previous: SplitFeed | None = None
) -> SplitFeed | None:
    """The body's VEVENT groups, or ``None`` when only a full parse can be trusted.

    With ``previous`` (an earlier split, usually of the same feed) only the pieces between
    stamp lines that differ from the earlier body's are scanned; the answer is the same as
    without it.
    """
    raw = None
    if previous is not None:
        # Line ends are settled only when a changed stretch holds a lone CR (the kept
        # stretches equal the old body, which has none): no pass over the whole body for it.
        raw = calendar_data(body, settle=False)
        if raw is not None:
            quick = _split_since(*raw, previous, max_vevents, max_nesting)
            if quick is not None:
                return quick
    prepared = calendar_data(body)
    if prepared is None:
        return None
    data, first_nl = prepared
    if previous is not None and (raw is None or data != raw[0]):  # settling changed it
        quick = _split_since(data, first_nl, previous, max_vevents, max_nesting)
        if quick is not None:
            return quick
    scanned = scan(data[first_nl:].lower(), first_nl, len(data), max_nesting, to_end=True)
    if scanned is None:
        return None
    spans, calendar_end = scanned
    if len(spans) > max_vevents:
        return None
    vevents = [(s, e, uid_key(data[s:e], data[s:e].lower())) for s, e in spans]
    return build_split(data, vevents, calendar_end, stamp_pieces(data), max_nesting)


Stretch = tuple[int, int, int]


def _runs(
    old: Sequence[bytes], new: Sequence[bytes], step: int, old_size: int
) -> list[tuple[int, int, int]]:
    """Stretches equal in both bodies once the old one is restamped, as (old start, new start,
    length), in order. ``old`` and ``new`` are the bodies cut at their stamp lines (both
    ``step`` bytes long): equal pieces with the stamp line after each make a stretch, which
    starts right after a newline (or at the start) and ends right after one (or at the end)."""
    return _byte_runs(old, new, _stretches(old, new), step, old_size)


def _stretches(old: Sequence[bytes], new: Sequence[bytes]) -> list[Stretch]:
    """Runs of pieces equal in both lists as (first, stop, delta): ``old[first:stop]`` equals
    ``new[first + delta : stop + delta]``; in order, none empty. One C-level comparison per
    piece finds them."""
    count = len(old)
    if count == len(new):
        differ = list(itertools.compress(range(count), map(operator.ne, old, new)))
        bounds = [-1, *differ, count]
        return [(i + 1, j, 0) for i, j in itertools.pairwise(bounds) if j > i + 1]
    # Events came or went: keep the common head and tail only.
    limit = min(count, len(new))
    head = 0
    while head < limit and old[head] == new[head]:
        head += 1
    # The last piece of one body is not the last of the other: no stamp line after it.
    head = min(head, limit - 1)
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    delta = len(new) - count
    # The first piece starts the body, the others a stamp line: never pair the two.
    stretches = [(0, head, 0), (max(count - tail, 1, 1 - delta), count, delta)]
    return [stretch for stretch in stretches if stretch[1] > stretch[0]]


def _unmatched(stretches: Sequence[Stretch], count: int) -> Iterator[int]:
    """The indices of the ``count`` new pieces that no stretch pairs with an old one."""
    position = 0
    for first, stop, delta in stretches:
        yield from range(position, first + delta)
        position = stop + delta
    yield from range(position, count)


class _Offsets:
    """Where pieces start in the body they were cut from, asked for in increasing order:
    each piece's length is summed once, and only up to the last piece asked for."""

    def __init__(self, pieces: Sequence[bytes], step: int) -> None:
        self._pieces = pieces
        self._step = step
        self._index = 0
        self._length = 0

    def start(self, index: int) -> int:
        """The offset of piece ``index`` (``index`` never less than the one asked before)."""
        self._length += sum(map(len, self._pieces[self._index : index]))
        self._index = index
        return self._length + index * self._step


def _byte_runs(
    old: Sequence[bytes],
    new: Sequence[bytes],
    stretches: Sequence[Stretch],
    step: int,
    old_size: int,
) -> list[tuple[int, int, int]]:
    """:func:`_runs` of the piece ``stretches``: piece ``i`` starts after the ``i`` pieces
    and ``i`` stamp lines before it."""
    old_at = _Offsets(old, step)
    new_at = _Offsets(new, step)
    runs: list[tuple[int, int, int]] = []
    for first, stop, delta in stretches:
        o_start = old_at.start(first)
        n_start = new_at.start(first + delta)
        o_end = min(old_at.start(stop), old_size)  # no stamp line after the last
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
    one stamp line is the stamp shared by both bodies (see ``blocks._group_digest``).
    """
    if previous.max_nesting != max_nesting or previous.calendar_end < 0:
        return None
    stamp = stamp_pieces(data, check_folds=False)
    new_line, new_pieces = stamp
    if not _restampable(previous, new_line):
        return None
    stretches = _stretches(previous.pieces, new_pieces)
    unmatched = [(new_pieces[i], i) for i in _unmatched(stretches, len(new_pieces))]
    # Pieces equal to the earlier body's were checked when it was split: check the others.
    if any(itertools.starmap(folded_piece, unmatched)):
        return None  # a folded copy of the stamp line: the fresh split takes no stamp
    runs = _byte_runs(previous.pieces, new_pieces, stretches, len(new_line), len(previous.data))
    if _lone_cr_between(data, runs):
        return None
    ranges = _kept_ranges(runs, previous.blocks)
    if not ranges:
        return None
    stitch = _Stitch(data, max_nesting)
    calendar_end = stitch.run(first_nl, ranges, previous.blocks)
    if calendar_end is None or len(stitch.vevents) > max_vevents:
        return None
    changed = stitch.changed
    if previous.unsafe:  # their groups are hashed again
        changed.update(block[2] for block in previous.blocks if block[0] in previous.unsafe)
    clean = previous.clean and all(itertools.starmap(clean_piece, unmatched))
    reuse = Reuse(previous, stitch.kept, changed)
    return build_split(data, stitch.vevents, calendar_end, stamp, max_nesting, reuse, clean=clean)


def _lone_cr_between(data: bytes, runs: Sequence[tuple[int, int, int]]) -> bool:
    """Whether the stretches of ``data`` outside ``runs`` hold a lone CR (inside them the
    bytes are the old body's, whose line ends were settled)."""
    position = 0
    for _o_start, n_start, length in runs:
        if n_start > position and has_lone_cr(data, position, n_start):
            return True
        position = n_start + length
    return position < len(data) and has_lone_cr(data, position)


def _restampable(previous: SplitFeed, new_line: bytes) -> bool:
    """Whether the old body, its stamp lines swapped for ``new_line``, reads at the same
    offsets and holds no other copy of ``new_line`` (the old pieces joined with it are then
    exactly that restamped body).

    A clean old body (see ``SplitFeed.clean``) proves the second without a search: a copy
    of ``new_line`` starts ``\\nDTSTAMP``, so it would start where a copy of the old line
    does, and lines of one length starting at one offset are equal."""
    old_line = previous.stamp_line
    if not old_line or len(new_line) != len(old_line) or not previous.pieces:
        return False
    return new_line == old_line or previous.clean or previous.data.find(new_line) < 0


_Block = tuple[int, int, bytes]


def _kept_ranges(
    runs: list[tuple[int, int, int]], blocks: Sequence[_Block]
) -> list[tuple[int, int, int]]:
    """Per run: the old blocks wholly inside it, as an index range, and its shift."""
    ranges: list[tuple[int, int, int]] = []
    for o_start, n_start, length in runs:
        first = bisect.bisect_left(blocks, o_start, key=_START)
        stop = bisect.bisect_right(blocks, o_start + length, key=_END)
        if stop > first:
            ranges.append((first, stop, n_start - o_start))
    return ranges


_START = itemgetter(0)
_END = itemgetter(1)


class _Stitch:
    """The new body's blocks: old blocks kept (shifted) run by run, the stretches between
    them scanned again; ``changed`` collects the UID lines of blocks scanned or dropped,
    ``kept`` the runs of old blocks kept (see ``blocks.Reuse``)."""

    def __init__(self, data: bytes, max_nesting: int) -> None:
        self.data = data
        self.max_nesting = max_nesting
        self.vevents: list[_Block] = []
        self.changed: set[bytes] = set()
        self.kept: list[tuple[int, int, int]] = []

    def run(
        self, first_nl: int, ranges: list[tuple[int, int, int]], blocks: Sequence[_Block]
    ) -> int | None:
        """Stitch every range in; the calendar end, or ``None`` when a rescan is in doubt."""
        position = first_nl + 1
        done = 0  # old blocks before this index are kept or dropped
        for first, stop, shift in ranges:
            self.changed.update(block[2] for block in blocks[done:first])  # dropped
            if self.rescan(position, blocks[first][0] + shift, False) is None:
                return None
            self.kept.append((len(self.vevents), first, stop))
            if shift:
                kept = blocks[first:stop]
                moved = itertools.repeat(shift)
                starts = map(operator.add, map(itemgetter(0), kept), moved)
                ends = map(operator.add, map(itemgetter(1), kept), moved)
                self.vevents.extend(zip(starts, ends, map(itemgetter(2), kept), strict=True))
            else:
                self.vevents.extend(blocks[first:stop])
            position, done = blocks[stop - 1][1] + shift, stop
        self.changed.update(block[2] for block in blocks[done:])
        return self.rescan(position, len(self.data), True)

    def rescan(self, begin: int, stop: int, to_end: bool) -> int | None:
        """Scan data[begin:stop] again (begin follows a newline); the calendar end, if any."""
        if stop < begin:
            return None
        data = self.data
        scanned = scan(
            data[begin - 1 : stop].lower(), begin - 1, len(data), self.max_nesting, to_end=to_end
        )
        if scanned is None:
            return None
        for s, e in scanned[0]:
            key = uid_key(data[s:e], data[s:e].lower())
            self.changed.add(key)
            self.vevents.append((s, e, key))
        return scanned[1]


class SplitMemo:
    """The last few splits one parser process made, so the next body of a feed is split at
    the cost of what changed. Bounded by count and by the bytes of the bodies (and their
    pieces) it holds; the latest split is always kept."""

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
            total += len(item.data) * (2 if item.pieces else 1)  # the pieces copy the body
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
