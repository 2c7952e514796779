"""Which stored event a parsed occurrence is: by key, and for UID-changing reschedules by a
secondary identity (the event's URL, or the stable stem of its UID).

The Events Calendar and LiveWhale change an event's UID when it is rescheduled; the URL (or
the post id inside the UID) stays, so the vanished key and the new key are paired and the new
one inherits the announcement.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.diff.model import LIVE_STATES, StoredEvent, has_ended
from bot.core.models import Occurrence, OccurrenceKey

_TEC_UID = re.compile(r"^(\d+)-\d{6,12}-\d{6,12}@(.+)$")
_LIVEWHALE_UID = re.compile(r"^(?:\d{8}T\d{4,6}Z?|\d{9,12})-(\d+)@(.+)$")


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """The stored events and the parsed occurrences of one diff, matched by key."""

    #: Parsed occurrences by key (of duplicates, the last one wins).
    occurrences: dict[OccurrenceKey, Occurrence]
    by_key: dict[OccurrenceKey, StoredEvent]
    #: Keys only the feed has.
    new_keys: set[OccurrenceKey]
    #: Stored events the feed no longer shows.
    absent: list[StoredEvent]
    #: Keys of absent events that were live and have not ended: reschedule candidates.
    vanished_live: set[OccurrenceKey]


def match_keys(
    stored: Iterable[StoredEvent], parsed: Iterable[Occurrence], now: datetime
) -> KeyMatch:
    occurrences: dict[OccurrenceKey, Occurrence] = {}
    for occ in parsed:
        occurrences[occ.key] = occ
    by_key = {e.key: e for e in stored}
    # Set algebra on dict views reuses the stored hashes: no per-event key hashing.
    new_keys = occurrences.keys() - by_key.keys()
    absent = [by_key[k] for k in by_key.keys() - occurrences.keys()]
    vanished_live = {
        e.key for e in absent if e.state in LIVE_STATES and not has_ended(e.occurrence, now)
    }
    return KeyMatch(occurrences, by_key, new_keys, absent, vanished_live)


def stable_stem(key: OccurrenceKey) -> str:
    """The part of a UID that survives a reschedule (post id + host), or "" when unknown."""
    if key.recurrence_id:
        return ""
    for kind, pattern in (("tec", _TEC_UID), ("lw", _LIVEWHALE_UID)):
        match = pattern.match(key.uid)
        if match:
            return f"{kind}:{match.group(1)}@{match.group(2).lower()}"
    return ""


def reschedule_pairs(
    match: KeyMatch, stored: Sequence[StoredEvent]
) -> dict[OccurrenceKey, OccurrenceKey]:
    """new key → vanished key for the reschedules of this diff (needs every stored event)."""
    if not (match.vanished_live and match.new_keys):
        return {}
    live = [e for e in stored if e.state in LIVE_STATES]
    return _pair_reschedules(
        live, list(match.occurrences.values()), match.vanished_live, match.new_keys
    )


def _url_identity(occ: Occurrence) -> str:
    return occ.url.strip() if not occ.key.recurrence_id else ""


def _stem_identity(occ: Occurrence) -> str:
    return stable_stem(occ.key)


def _unique_index(items: Iterable[tuple[str, OccurrenceKey]]) -> dict[str, OccurrenceKey]:
    """Map a secondary key to the one occurrence holding it; ambiguous keys are dropped."""
    pairs = [(k, v) for k, v in items if k]
    counts = Counter(k for k, _ in pairs)
    return {k: v for k, v in pairs if counts[k] == 1}


def _pair_reschedules(
    stored_live: Sequence[StoredEvent],
    parsed: Sequence[Occurrence],
    vanished: set[OccurrenceKey],
    new: set[OccurrenceKey],
) -> dict[OccurrenceKey, OccurrenceKey]:
    """new key → vanished key, only where URL or UID stem identifies one event on both sides."""
    pairs: dict[OccurrenceKey, OccurrenceKey] = {}
    taken: set[OccurrenceKey] = set()
    for secondary in (_url_identity, _stem_identity):
        old_index = _unique_index((secondary(e.occurrence), e.key) for e in stored_live)
        new_index = _unique_index((secondary(o), o.key) for o in parsed)
        for value, new_key in new_index.items():
            old_key = old_index.get(value)
            if (
                old_key is not None
                and new_key in new
                and old_key in vanished
                and new_key not in pairs
                and old_key not in taken
            ):
                pairs[new_key] = old_key
                taken.add(old_key)
    return pairs
