"""What the fleet bench measures from outside the bot: /proc, the fake's log, the bot's SQLite.

Nothing here runs inside the bot process, so measuring costs the bot nothing (the one
exception, the event-loop probe, lives in ``bench.fleet_bot``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.procstat import status_mb
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import snowflake_time_ms

_TICK = os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, reaped children's CPU s) from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / _TICK
    reaped = (int(fields[13]) + int(fields[14])) / _TICK
    return int(fields[1]), own, reaped


def tree(root: int) -> list[int]:
    """``root`` and every live descendant (the parser workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                parents[int(entry)] = stat[0]
    mine = [root]
    seen = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in seen and pid not in seen:
                seen.add(pid)
                mine.append(pid)
                grew = True
    return mine


def tree_cpu_seconds(root: int) -> float:
    """CPU of the bot and its workers, live and already reaped."""
    total = 0.0
    for pid in tree(root):
        stat = _stat(pid)
        if stat is not None:
            total += stat[1] + (stat[2] if pid == root else 0.0)
    return total


@dataclass
class ProcessWatch:
    """Samples the bot's process tree once a second: CPU marks and peak RSS."""

    root: int
    peak_tree_mb: float = 0.0
    peak_main_mb: float = 0.0
    marks: dict[str, tuple[float, float]] = field(default_factory=dict)

    def sample(self) -> None:
        pids = tree(self.root)
        self.peak_tree_mb = max(self.peak_tree_mb, sum(status_mb(pid, "VmRSS:") for pid in pids))
        self.peak_main_mb = max(self.peak_main_mb, status_mb(self.root, "VmHWM:"))

    def mark(self, name: str, wall: float) -> None:
        self.marks[name] = (wall, tree_cpu_seconds(self.root))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


# --- deliveries ------------------------------------------------------------------------------


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass
class Deliveries:
    announcement_late: list[float]
    announcements_undelivered: int
    reminder_late: list[float]
    reminder_states: dict[str, int]
    reminders_due_unsent: int
    #: row kind -> lateness of its delivered rows; (state, last error) -> undelivered rows
    late_by_kind: dict[str, list[float]]
    undelivered_why: dict[str, int]


def _arrival(fake: FakeDiscord, message_id: int, channel_id: int, since: float) -> float | None:
    """When the message (created) or its first edit since ``since`` reached the fake."""
    created = snowflake_time_ms(message_id) / 1000
    if created >= since - 0.001:
        return created
    path = f"/channels/{channel_id}/messages/{message_id}"
    for record in fake.requests:
        if record.method == "PATCH" and record.path == path and record.at >= since:
            return record.at
    return None


def deliveries(db_path: Path, fake: FakeDiscord, *, since: float, until: float) -> Deliveries:
    """Announcement rows written by polls in [since, until) and reminders due in it."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        announcement_late = []
        undelivered = 0
        late_by_kind: dict[str, list[float]] = {}
        why: dict[str, int] = {}
        rows = db.execute(
            "SELECT o.created_at, o.state, o.discord_message_id, f.channel_id, o.kind,"
            " o.last_error FROM outbox o JOIN feeds f ON f.id = o.feed_id"
        ).fetchall()
        for created_at, state, message_id, channel_id, kind, error in rows:
            created = _epoch(created_at)
            if not since <= created < until:
                continue
            arrived = (
                _arrival(fake, int(message_id), int(channel_id), created)
                if state == "sent" and message_id
                else None
            )
            if arrived is None:
                undelivered += 1
                reason = f"{state}: {(error or '')[:60]}"
                why[reason] = why.get(reason, 0) + 1
            else:
                announcement_late.append(arrived - created)
                late_by_kind.setdefault(str(kind), []).append(arrived - created)
        reminder_late = []
        states: dict[str, int] = {}
        unsent = 0
        for due_at, state, message_id in db.execute(
            "SELECT due_at, state, message_id FROM reminders"
        ):
            due = _epoch(due_at)
            if not since <= due < until:
                continue
            states[state] = states.get(state, 0) + 1
            if state == "sent" and message_id:
                reminder_late.append(snowflake_time_ms(int(message_id)) / 1000 - due)
            else:
                unsent += 1
    finally:
        db.close()
    return Deliveries(
        announcement_late, undelivered, reminder_late, states, unsent, late_by_kind, why
    )


def feed_ids_by_url(db_path: Path) -> dict[str, list[int]]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        ids: dict[str, list[int]] = {}
        for feed_id, url in db.execute("SELECT id, url FROM feeds ORDER BY id"):
            ids.setdefault(str(url), []).append(int(feed_id))
        return ids
    finally:
        db.close()


def request_rates(times: Sequence[float]) -> tuple[float, int]:
    """(mean per second over the span, most in any one-second window)."""
    if len(times) < 2:
        return float(len(times)), len(times)
    ordered = sorted(times)
    peak = 0
    start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return len(ordered) / (ordered[-1] - ordered[0]), peak
