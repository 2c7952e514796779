"""Parse only what changed: the pure half of the incremental poll.

A big feed changes a little between polls. A poll must return *exactly* what a full parse of
the body would, while parsing only the events that changed. The pieces, in the order a poll
meets them:

- :mod:`~bot.core.incremental.blocks` — the byte-level split: VEVENT blocks found without
  parsing, grouped by UID line (a recurring master with its overrides), each group hashed
  with DTSTAMP left out; the header and VTIMEZONEs form the *context*. Also
  ``content_digest``, the whole body's hash without stamps (in two passes, ``draft_digest``
  and ``settle_digest``, so a poll can run the second beside the parser child).
- :mod:`~bot.core.incremental.split` — ``split_feed``, reusing the previous split of the same
  feed where the bytes did not change (``SplitMemo`` keeps a process's last few).
- :mod:`~bot.core.incremental.changed` — ``parse_changed``, run in the parser child: parses
  the groups the cache does not hold over an *expansion horizon* a little wider than the poll
  window and returns them in an ``Outcome``.
- :mod:`~bot.core.incremental.results` — ``GroupResult``, ``CacheView``, ``Outcome``,
  ``PARSER_VERSION`` and ``settings_key``: what crosses the process boundary and is stored.
- :mod:`~bot.core.incremental.views` — ``ViewMemo``: the child's memory of the views it was
  sent, so a view crosses the process boundary as a token rather than thousands of digests.
- :mod:`~bot.core.incremental.state` — ``FeedState`` and ``absorb``: the remembered groups of
  one feed and how an outcome updates them.
- :mod:`~bot.core.incremental.assemble` and :mod:`~bot.core.incremental.flat` — the window's
  occurrences rebuilt from the groups with the parser's own window test and dedupe; ``flat``
  keeps them pre-sorted between polls so a poll costs only the window test.

Outside the core (the layers keep their I/O): ``bot/service/incremental.py`` runs a poll's
parse step (the stamp-only short cut, the child call, absorbing, the fallbacks);
``bot/feeds/isolate.py`` runs ``parse_changed`` in the child; ``bot/store/parse_cache.py``
persists ``FeedState`` groups; ``bot/store/event_cache.py`` keeps a feed's stored events in
memory between polls.

Invariants:

- The full parse is the authority. Whenever the splitter is unsure (several calendars,
  unbalanced or folded BEGIN/END lines, deep nesting, truncation), the context changes, the
  window leaves the horizon, ``PARSER_VERSION`` or the settings change, a UID spreads over
  several groups, or a cap is in reach, the answer comes from the full parse.
- A group with skipped events or duplicate keys is *volatile*: parsed over the exact window,
  used once, never stored.
- The cache is a memo: losing it costs a parse, never a decision.
  ``tests/service/test_incremental_equivalence.py`` compares both paths on every corpus file.
"""

from bot.core.incremental.blocks import (
    DraftDigest,
    content_digest,
    draft_digest,
    settle_digest,
)
from bot.core.incremental.changed import parse_changed
from bot.core.incremental.results import (
    PARSER_VERSION,
    CacheView,
    GroupResult,
    Outcome,
    settings_key,
)
from bot.core.incremental.split import SplitMemo
from bot.core.incremental.state import FeedState, absorb
from bot.core.incremental.views import ViewMemo

__all__ = [
    "PARSER_VERSION",
    "CacheView",
    "DraftDigest",
    "FeedState",
    "GroupResult",
    "Outcome",
    "SplitMemo",
    "ViewMemo",
    "absorb",
    "content_digest",
    "draft_digest",
    "parse_changed",
    "settings_key",
    "settle_digest",
]
