"""What to do when Discord refuses a delivery: never retry blindly (docs/reliability.md, rule 9).

Pure decisions, so every branch is unit-tested without Discord: the delivery worker maps an
exception to ``(status, code)`` and asks here what it means.
"""

from __future__ import annotations

import enum
import random
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

# Discord JSON error codes (docs/discord-protocol.md, Error codes).
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
MISSING_ACCESS = 50001
CANNOT_DM = 50007
MISSING_PERMISSIONS = 50013
OPENING_DMS_TOO_FAST = 40003
ARCHIVED_THREAD = 50083
INVALID_FORM_BODY = 50035
ENTITY_TOO_LARGE = 40005


class Verdict(enum.StrEnum):
    #: Transient (5xx, network): try again later with backoff; the nonce prevents doubles.
    RETRY = "retry"
    #: 429 beyond what discord.py waits for itself: try again after ``retry_after``.
    RATE_LIMITED = "rate_limited"
    #: The channel is gone or we lack permission: stop using it, tell an admin once.
    DISABLE_TARGET = "disable_target"
    #: The message we meant to edit was deleted by a person: record it, never retry.
    MESSAGE_GONE = "message_gone"
    #: The user does not accept DMs from us: flag it, stop DMing them.
    DM_CLOSED = "dm_closed"
    #: The message was refused for its size: split it (or shrink a lone card) and send again.
    #: Never dead: the announcements in it are fine, only their packing was not.
    TOO_LARGE = "too_large"
    #: Our payload was refused (a bug or a poison message): mark dead and alert.
    DEAD = "dead"


#: How Discord words a size refusal inside a 50035 body ("Embed size exceeds maximum size of
#: 6000", "Must be 4096 or fewer in length."), as discord.py flattens it into the error text.
_SIZE_REFUSAL = re.compile(r"exceeds maximum size|or fewer in length|too large|too long", re.I)


def refused_for_size(status: int, code: int, text: str) -> bool:
    """True when Discord refused a message only because it was too big."""
    if status == 413 or code == ENTITY_TOO_LARGE:
        return True
    return code == INVALID_FORM_BODY and _SIZE_REFUSAL.search(text or "") is not None


def classify(
    status: int,
    code: int,
    *,
    editing: bool = False,
    direct_message: bool = False,
    text: str = "",
) -> Verdict:
    """``text`` is the error text of a 4xx (a 50035 body says which limit was broken)."""
    if status == 429:
        return Verdict.RATE_LIMITED
    if status >= 500 or status == 0:
        return Verdict.RETRY
    if code == CANNOT_DM or (direct_message and status == 403):
        return Verdict.DM_CLOSED
    if code == UNKNOWN_MESSAGE and editing:
        return Verdict.MESSAGE_GONE
    if code in (UNKNOWN_CHANNEL, MISSING_ACCESS, MISSING_PERMISSIONS, ARCHIVED_THREAD):
        return Verdict.DISABLE_TARGET
    if status in (403, 404):
        return Verdict.DISABLE_TARGET
    if code == OPENING_DMS_TOO_FAST:
        return Verdict.RATE_LIMITED
    if refused_for_size(status, code, text):
        return Verdict.TOO_LARGE
    return Verdict.DEAD


def retry_delay(
    attempts: int, rng: random.Random, *, cap: timedelta = timedelta(minutes=15)
) -> timedelta:
    """Exponential backoff with full jitter for transient failures: 5 s, 10 s, … up to 15 min."""
    base = min(cap.total_seconds(), 5.0 * 2 ** min(max(attempts - 1, 0), 16))
    return timedelta(seconds=base / 2 + rng.random() * base / 2)


@dataclass
class InvalidRequestBreaker:
    """Counts 401/403/429 answers in a sliding window and trips long before Discord's ban.

    Discord bans an IP for a while after 10,000 invalid requests in 10 minutes; a bot that keeps
    retrying a forbidden channel gets there. Past ``threshold`` we pause non-essential traffic.
    """

    threshold: int = 100
    window: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        self._hits: deque[datetime] = deque()
        self._tripped_at: datetime | None = None

    def record(self, status: int, now: datetime) -> None:
        if status in (401, 403, 429):
            self._hits.append(now)
            self._expire(now)
            if len(self._hits) >= self.threshold and self._tripped_at is None:
                self._tripped_at = now

    def _expire(self, now: datetime) -> None:
        while self._hits and now - self._hits[0] > self.window:
            self._hits.popleft()

    def is_open(self, now: datetime) -> bool:
        """True while traffic should pause; closes once the window has drained."""
        self._expire(now)
        if self._tripped_at is not None and len(self._hits) < self.threshold // 2:
            self._tripped_at = None
        return self._tripped_at is not None
