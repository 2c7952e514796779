"""Turn a successful parse plus the stored state into Discord actions and the next state.

Pure: no I/O, time comes in as ``now``. The rules (docs/reliability.md, rules 2 and 11): absence
is not deletion, deletions need confirmation, a mass drop is a feed fault, and The Events
Calendar changes an event's UID when it is rescheduled (its URL stays, so the move is paired).

The pieces, in the order a diff meets them:

- :mod:`~bot.core.diff.engine` — ``diff_feed``, the entry point: the fast path, then the diff
  proper (match keys, pair reschedules, feed-wide checks, per-event rules, the result).
- :mod:`~bot.core.diff.fast_path` — sets aside the stored events the feed shows unchanged (as
  the very same object) and merges them back in order; the diff visits only the rest.
- :mod:`~bot.core.diff.stored_index` — the stored events indexed between polls, so the fast
  path finds the few to visit without walking them all.
- :mod:`~bot.core.diff.identity` — matching by key and reschedule pairing by URL or UID stem.
- :mod:`~bot.core.diff.evidence` — which absences count, and when a poll is a mass drop.
- :mod:`~bot.core.diff.rules` — what one event becomes: present, new, or absent.
- :mod:`~bot.core.diff.budget` — the per-poll announcement budget (the rest stay pending).
- :mod:`~bot.core.diff.model` — the policy, ``StoredEvent``, ``DiffResult`` and time helpers.

Other layers import from this package, not from its modules.
"""

from bot.core.diff.engine import diff_feed
from bot.core.diff.model import (
    Baseline,
    DiffCounts,
    DiffPolicy,
    DiffResult,
    EventState,
    PlannedAction,
    StoredEvent,
    announcement_id_for,
    in_announce_window,
)
from bot.core.diff.stored_index import StoredIndex

__all__ = [
    "Baseline",
    "DiffCounts",
    "DiffPolicy",
    "DiffResult",
    "EventState",
    "PlannedAction",
    "StoredEvent",
    "StoredIndex",
    "announcement_id_for",
    "diff_feed",
    "in_announce_window",
]
