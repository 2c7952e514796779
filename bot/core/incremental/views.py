"""The parser child's memory of the cache views it was sent, so a view need not be resent.

A 10,000-event feed's view holds 10,000 group digests: pickled, piped and unpickled on every
poll, that is a few milliseconds of a poll that should cost about the change. The child can
tell what the feed's state holds after absorbing an outcome it made (every group in the order
but the volatile ones), so it names that set with a fresh token and remembers it; the next
view carries only the token. A child that does not know a token (a new or another worker, or
one that forgot it) asks for the whole view, so a lost memory costs a resend, never an answer.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import replace

from bot.core.incremental.results import CacheView, Outcome

__all__ = ["ViewMemo"]


class ViewMemo:
    """The digests of the last few views one parser process made, by token."""

    def __init__(self, *, count: int = 4) -> None:
        self._count = count
        self._known: OrderedDict[bytes, frozenset[bytes]] = OrderedDict()

    def clear(self) -> None:
        self._known.clear()

    def resolve(self, view: CacheView | None) -> tuple[CacheView | None, bool]:
        """The view with its digests, and whether it could be had (a lean view whose token
        this process does not know cannot)."""
        if view is None or view.known is not None:
            return view, True
        known = self._known.get(view.token)
        if known is None:
            return None, False
        self._known.move_to_end(view.token)
        return replace(view, known=known), True

    def remember(self, view: CacheView | None, outcome: Outcome) -> Outcome:
        """``outcome`` with a token naming what the feed's state holds once it absorbed it.

        That is every group in the order but the volatile ones: kept groups were known,
        the others were parsed into ``new`` or ``exact``, and the state drops whatever the
        order no longer holds (after a reset, it holds only ``new``)."""
        if outcome.full is not None or outcome.horizon is None:
            return outcome
        known = frozenset(outcome.order).difference(outcome.exact)
        token = os.urandom(16)
        self._known[token] = known
        while len(self._known) > self._count:
            self._known.popitem(last=False)
        base = view.version if view is not None else -1
        return replace(outcome, token=token, base_version=base)
