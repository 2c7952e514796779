"""The byte-level split: find VEVENT blocks in a feed body and hash them, without parsing.

The incremental poll parses only blocks it has not seen before, so it must find block
boundaries far more cheaply than icalendar can. Every boundary found here must be the one the
tolerant scanner in :mod:`bot.core.parse` would find; whenever that is in doubt (several
calendars, unbalanced or folded BEGIN/END lines, deep nesting, a truncated body) the splitter
gives up (``None``) so the caller falls back to a full parse. Correctness first.

Blocks sharing a UID line (an RRULE master and its RECURRENCE-ID overrides, or The Events
Calendar's duplicates) form one :class:`Group`, the unit that is parsed and cached. A group's
digest leaves DTSTAMP lines out: they change on every export and never reach an occurrence.

This module holds the pieces (scan, digests, assembling a :class:`SplitFeed`);
:mod:`bot.core.incremental.split` puts them together, reusing the previous split when it can.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

__all__ = [
    "DraftDigest",
    "Group",
    "SplitFeed",
    "build_split",
    "clean_piece",
    "clean_pieces",
    "content_digest",
    "draft_digest",
    "folded_piece",
    "group_body",
    "has_lone_cr",
    "scan",
    "settle_digest",
    "stamp_pieces",
]

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
_STAMP_LINE = re.compile(rb"\nDTSTAMP(?:;[A-Za-z0-9=/_+-]*)?:\d{8}T\d{6}Z?[ \t]*\r?\n(?![ \t])")
_DIGEST_SIZE = 16
#: Where every stamp line starts (well-formed or not).
_STAMP_START = b"\nDTSTAMP"
#: What a folded line's continuation starts with.
_FOLD = (b" ", b"\t")


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
    #: Each group's digest, groups in order of their first block (see :attr:`groups`).
    digests: tuple[bytes, ...]
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
    #: :attr:`data` cut at every copy of :attr:`stamp_line` (empty without one): what the
    #: next body of the feed is compared with. Derived from ``data``, so left out of ``==``.
    pieces: tuple[bytes, ...] = field(default=(), compare=False, repr=False)
    #: True when every ``\nDTSTAMP`` in :attr:`data` starts a copy of :attr:`stamp_line` it
    #: was cut at: then no other stamp line of that length can occur in it (see
    #: ``split._restampable``). False when unknown; derived, so left out of ``==``.
    clean: bool = field(default=False, compare=False, repr=False)
    #: The groups when a UID line spans several blocks; ``None`` for one group per block,
    #: made only when asked for (see :attr:`groups`). Derived, so left out of ``==``.
    shared: tuple[Group, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def single(self) -> bool:
        """One group per block, in block order: group ``i`` is block ``i``."""
        return self.shared is None

    @property
    def groups(self) -> tuple[Group, ...]:
        """Every group, in order of its first block.

        A feed of one block per UID line (the usual) keeps only the digests and blocks: a
        re-split of a large feed would otherwise build a group per block on every poll, when
        a poll needs only the few it parses."""
        if self.shared is not None:
            return self.shared
        return tuple(self.groups_at(range(len(self.digests))))

    def groups_at(self, indices: Iterable[int]) -> list[Group]:
        """The groups at ``indices`` (positions in :attr:`digests`)."""
        if self.shared is not None:
            return list(map(self.shared.__getitem__, indices))
        chosen = list(indices)
        blocks = list(map(self.blocks.__getitem__, chosen))
        spans = zip(zip(map(itemgetter(0), blocks), map(itemgetter(1), blocks), strict=True))
        digests = map(self.digests.__getitem__, chosen)
        keys = map(itemgetter(2), blocks)
        return list(map(_new_group, zip(digests, keys, spans, strict=True)))


def _digest(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=_DIGEST_SIZE)
    for part in parts:
        h.update(part)
    return h.digest()


def uid_key(block: bytes, low: bytes) -> bytes:
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


def content_digest(body: bytes, *, known: bytes | None = None, stretch: int = 1 << 20) -> bytes:
    """A hash of the body with its well-formed, unfolded DTSTAMP lines left out.

    Two bodies with the same digest differ only in stamp lines, which the parser never reads,
    so they parse identically: a poll whose body merely re-exported the same events needs no
    split, no child process and no parse. Exports usually stamp every event alike, so the copies
    of that one line are found by C-level ``find`` and the stretches between them hashed with
    the newline the line began with; anything else (a folded copy of it, another stamp line)
    goes the slow way, stamp line by stamp line. Both ways hash the same bytes.

    ``known``: a digest this function gave for the body last seen (see :func:`draft_digest`).
    """
    return settle_digest(body, draft_digest(body, known=known), stretch=stretch)


class DraftDigest(NamedTuple):
    """The first pass of :func:`content_digest`.

    ``value`` hashes the body without the copies of its first stamp line. ``cuts`` is how
    many copies were left out, or ``None`` when ``value`` is already the content digest."""

    value: bytes
    cuts: int | None


def draft_digest(body: bytes, *, known: bytes | None = None) -> DraftDigest:
    """The body hashed without the copies of its first stamp line.

    That is the body minus *some* stamp lines, which parses the same, so a match with
    ``known`` (a digest :func:`content_digest` gave for the body last seen) settles it: it is
    then this body's content digest too. Otherwise stamp lines of other values may be left,
    and only :func:`settle_digest` can tell: a poll that found no match settles it after the
    parser child, whose split usually proves there are none (then no third pass over a large
    body is needed)."""
    first = _STAMP_LINE.search(body)
    if first is None:
        return DraftDigest(hashlib.sha256(body).digest(), None)
    hashed = _hash_without(body, first.group(0))
    if hashed is None:  # a folded copy of the line: only the walk can tell stamp lines apart
        return DraftDigest(_digest_stamps(body), None)
    value, cuts = hashed
    return DraftDigest(value, None if value == known else cuts)


def settle_digest(
    body: bytes, draft: DraftDigest, *, single_stamp: bool = False, stretch: int = 1 << 20
) -> bytes:
    """The content digest from ``draft``: its value when no other stamp line is left.

    ``single_stamp``: the caller knows every DTSTAMP line of the body is a copy of its first
    stamp line (the parser child's split proves it as it goes), so no search is needed.

    This runs on the database thread beside the event loop: every C-level call covers one
    event or one stretch of about ``stretch`` bytes, so none holds the interpreter for long."""
    if draft.cuts is None or single_stamp:
        return draft.value
    if _count(body, _STAMP_START, stretch) == draft.cuts:
        return draft.value
    return _digest_stamps(body)  # stamps of several values: leave every one of them out


def _hash_without(body: bytes, line: bytes) -> tuple[bytes, int] | None:
    """SHA-256 of ``body.split(line)`` joined with newlines, and the number of cuts; ``None``
    when a copy of the line is folded (what follows a cut starts with a blank).

    The body is hashed through views between the copies, each with the newline its copy
    begins with: the pieces are never copied out. On a large body those copies would be
    megabytes of fresh memory, whose first touch costs more than the hashing."""
    digest = hashlib.sha256()
    view = memoryview(body)
    cuts = 0
    cursor = 0
    position = body.find(line)
    while position >= 0:
        digest.update(view[cursor : position + 1])
        cursor = position + len(line)
        if body.startswith(_FOLD, cursor):
            return None
        cuts += 1
        position = body.find(line, cursor)
    digest.update(view[cursor:])
    return digest.digest(), cuts


def _count(data: bytes, needle: bytes, stretch: int) -> int:
    """``data.count(needle)`` for a needle that cannot overlap itself, stretch by stretch:
    each call counts the copies starting inside its stretch."""
    reach = len(needle) - 1
    return sum(
        data.count(needle, start, start + stretch + reach) for start in range(0, len(data), stretch)
    )


def _digest_stamps(body: bytes) -> bytes:
    """:func:`content_digest` the slow way: every stamp line found and left out one by one."""
    digest = hashlib.sha256()
    view = memoryview(body)
    cursor = 0
    position = body.find(_STAMP_START)
    while position >= 0:
        match = _STAMP_LINE.match(body, position)
        if match is not None:
            digest.update(view[cursor : position + 1])
            cursor = match.end()
        position = body.find(_STAMP_START, position + len(_STAMP_START))
    digest.update(view[cursor:])
    return digest.digest()


def calendar_data(body: bytes, *, settle: bool = True) -> tuple[bytes, int] | None:
    """The body from ``BEGIN:VCALENDAR`` on (line ends settled) and the end of its first line.

    ``settle=False`` leaves lone CRs alone (the caller then looks for them itself, see
    :func:`has_lone_cr`): the data is what a settled call returns whenever there is none."""
    start = _BEGIN_CAL.search(body)
    if start is None or (start.start() > 0 and body[start.start() - 1] not in b"\r\n"):
        return None
    data = body[start.start() :]
    if settle and _LONE_CR.search(data) is not None:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if data[:15].lower() != b"begin:vcalendar":
        return None
    first_nl = data.find(b"\n")
    if first_nl < 0 or data[15:first_nl].strip() != b"":
        return None
    if first_nl + 1 < len(data) and data[first_nl + 1] in b" \t":
        return None  # a folded BEGIN:VCALENDAR line
    return data, first_nl


def has_lone_cr(data: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether ``data[start:end]`` holds a CR that does not end a line with LF (a CR right
    before ``end`` counts: a caller's stretch should end after a newline)."""
    return _LONE_CR.search(data, start, len(data) if end is None else end) is not None


def stamp_pieces(data: bytes, *, check_folds: bool = True) -> tuple[bytes, tuple[bytes, ...]]:
    """The first stamp line and the body cut at every copy of it, or ``(b"", ())`` when there
    is none or a copy of it is folded: exports usually stamp every event alike, so the line
    marks the blocks whose digest a new stamp cannot change, and the pieces between its copies
    are what a later body is compared with (see ``split._runs``).

    ``check_folds=False`` leaves the folded copies to the caller (see :func:`folded_piece`):
    a re-split checks only the pieces that differ from the earlier body's, which were checked
    when that body was split."""
    first = _STAMP_LINE.search(data)
    if first is None:
        return b"", ()
    line = first.group(0)
    pieces = data.split(line)
    if check_folds and any(map(bytes.startswith, itertools.islice(pieces, 1, None), _BLANKS)):
        return b"", ()  # a piece starting with a blank continues a folded copy of the line
    return line, tuple(pieces)


def folded_piece(piece: bytes, index: int) -> bool:
    """Whether the stamp line cut before piece ``index`` is folded (the piece starts with a
    blank that continues it); the first piece follows no cut."""
    return index > 0 and piece.startswith(_FOLD)


def clean_piece(piece: bytes, index: int) -> bool:
    """Whether piece ``index`` of a body cut at its stamp line adds no ``\\nDTSTAMP`` to the
    body: none inside it, and (after a cut) it does not start ``DTSTAMP`` right after the
    line's closing newline. A stamp line holds a newline only at its two ends, so no other
    ``\\nDTSTAMP`` can reach across a cut."""
    return _STAMP_START not in piece and not (index > 0 and piece.startswith(b"DTSTAMP"))


def clean_pieces(data: bytes, pieces: Sequence[bytes]) -> bool:
    """Whether every ``\\nDTSTAMP`` in ``data`` starts one of the copies of its stamp line
    that ``pieces`` were cut at (see :attr:`SplitFeed.clean`). The needle cannot overlap
    itself, so counting finds each copy's one and nothing else exactly when all are clean."""
    return bool(pieces) and data.count(_STAMP_START) == len(pieces) - 1


_BLANKS = itertools.repeat(_FOLD)


Scan = tuple[list[tuple[int, int]], int]


def scan(  # noqa: C901 - hot per-line marker loop; helpers would add a call per BEGIN/END
    low: bytes, base: int, data_len: int, max_nesting: int, *, to_end: bool
) -> Scan | None:
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
        stamp = data.find(_STAMP_START, s, e)
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


@dataclass(frozen=True, slots=True)
class Reuse:
    """What a re-split may take from the earlier split of the feed."""

    previous: SplitFeed
    #: Runs of kept blocks as (index among the new blocks, first, stop): the earlier
    #: split's blocks ``first:stop``, in order, with their bytes unchanged.
    kept: Sequence[tuple[int, int, int]]
    #: UID lines whose blocks were scanned again, dropped or unsafe: hashed again.
    changed: AbstractSet[bytes]


def build_split(
    data: bytes,
    vevents: Sequence[tuple[int, int, bytes]],
    calendar_end: int,
    stamp: tuple[bytes, tuple[bytes, ...]],
    max_nesting: int,
    reuse: Reuse | None = None,
    *,
    clean: bool | None = None,
) -> SplitFeed:
    """The :class:`SplitFeed` of ``data``'s blocks; a group whose UID line is not in
    ``reuse``'s changed set keeps the earlier group's digest (all its blocks were kept).
    ``clean``: :attr:`SplitFeed.clean` when the caller knows it, else it is counted."""
    stamp_line, pieces = stamp
    ends = [0, *map(itemgetter(1), vevents)]
    starts = [*map(itemgetter(0), vevents), calendar_end]
    gaps = itertools.compress(zip(ends, starts, strict=True), map(operator.ne, ends, starts))
    header = b"".join([data[a:b] for a, b in gaps])
    keys = list(map(itemgetter(2), vevents))
    shared: tuple[Group, ...] | None = None
    if len(set(keys)) == len(keys):  # one block per UID line: the usual feed
        digests, unsafe = _single_digests(data, vevents, stamp_line, reuse)
    else:
        old = None if reuse is None else (_groups_by_key(reuse.previous), reuse.changed)
        groups, unsafe = _shared_groups(data, vevents, stamp_line, old)
        shared = tuple(groups)
        digests = list(map(itemgetter(0), groups))
    return SplitFeed(
        data=data,
        header=header,
        header_digest=_digest(header),
        digests=tuple(digests),
        vevent_count=len(vevents),
        stamp_line=stamp_line,
        unsafe=frozenset(unsafe),
        calendar_end=calendar_end,
        max_nesting=max_nesting,
        blocks=tuple(vevents),
        pieces=pieces,
        clean=clean_pieces(data, pieces) if clean is None else clean,
        shared=shared,
    )


def _groups_by_key(split: SplitFeed) -> dict[bytes, Group]:
    return {group.uid_line: group for group in split.groups}


def _single_digests(
    data: bytes,
    vevents: Sequence[tuple[int, int, bytes]],
    stamp_line: bytes,
    reuse: Reuse | None,
) -> tuple[list[bytes], list[int]]:
    """Each block's digest (one group per block) and the unsafe block starts. A re-split of a
    large feed runs this for every block, so the kept digests are taken at C level (by
    position from an earlier split of one group per block, else by UID line) and only the
    blocks scanned again, or unsafe before, are hashed."""
    if reuse is None:
        fresh: Iterable[int] = range(len(vevents))
        digests = list(itertools.repeat(b"", len(vevents)))
    elif reuse.previous.single:
        digests, fresh = _kept_digests(reuse, len(vevents))
    else:
        digests, fresh = _digests_by_key(reuse, vevents)
    unsafe: list[int] = []
    for index in fresh:
        s, e, key = vevents[index]
        digest, risky = _group_digest(data, key, ((s, e),), stamp_line)
        unsafe.extend(risky)
        digests[index] = digest
    return digests, unsafe


def _digests_by_key(
    reuse: Reuse, vevents: Sequence[tuple[int, int, bytes]]
) -> tuple[list[bytes], list[int]]:
    """The kept blocks' digests from the earlier groups by UID line (the earlier split had
    a UID line over several blocks: rare), blanks for the changed ones (listed as fresh)."""
    old_groups = _groups_by_key(reuse.previous)
    digests: list[bytes] = []
    fresh: list[int] = []
    for index, (_s, _e, key) in enumerate(vevents):
        if key in reuse.changed:
            fresh.append(index)
            digests.append(b"")
        else:  # all its blocks kept, none dropped: its one block is this one
            digests.append(old_groups[key].digest)
    return digests, fresh


def _kept_digests(reuse: Reuse, count: int) -> tuple[list[bytes], list[int]]:
    """The new blocks' digests by position: slices of the earlier split's for kept runs,
    blanks (listed as fresh) for the blocks scanned again and the kept ones unsafe before.

    Valid only when both splits hold one group per block: a kept block's UID line is then
    neither a scanned block's (the new lines are distinct) nor a dropped one's (so were the
    old), so its group is exactly its earlier group."""
    previous = reuse.previous
    digests: list[bytes] = []
    fresh: list[int] = []
    position = 0
    for start, first, stop in reuse.kept:
        fresh.extend(range(position, start))
        digests.extend(itertools.repeat(b"", start - position))
        digests.extend(previous.digests[first:stop])
        position = start + stop - first
    fresh.extend(range(position, count))
    digests.extend(itertools.repeat(b"", count - position))
    if previous.unsafe:
        for start, first, stop in reuse.kept:
            olds = previous.blocks[first:stop]
            fresh.extend(start + i for i, old in enumerate(olds) if old[0] in previous.unsafe)
    return digests, fresh


#: A group made without the named tuple's Python-level ``__new__``.
_new_group: Callable[[tuple[bytes, bytes, tuple[tuple[int, int], ...]]], Group] = functools.partial(
    tuple.__new__, Group
)


def _shared_groups(
    data: bytes,
    vevents: Sequence[tuple[int, int, bytes]],
    stamp_line: bytes,
    reuse: tuple[dict[bytes, Group], AbstractSet[bytes]] | None,
) -> tuple[list[Group], list[int]]:
    """Blocks grouped by UID line, groups in order of their first block; with ``reuse``
    (the earlier groups by UID line, and the changed lines) kept groups keep their digest."""
    grouped: dict[bytes, list[tuple[int, int]]] = {}
    for s, e, key in vevents:
        spans = grouped.get(key)
        if spans is None:
            grouped[key] = [(s, e)]
        else:
            spans.append((s, e))
    groups: list[Group] = []
    unsafe: list[int] = []
    for key, spans in grouped.items():
        if reuse is not None and key not in reuse[1]:
            old = reuse[0][key]  # all its blocks kept, none dropped: the same blocks
            same = spans[0] == old.spans[0] and (len(spans) == 1 or tuple(spans) == old.spans)
            groups.append(old if same else Group(old.digest, key, tuple(spans)))
            continue
        digest, risky = _group_digest(data, key, spans, stamp_line)
        unsafe.extend(risky)
        groups.append(Group(digest, key, tuple(spans)))
    return groups, unsafe


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
