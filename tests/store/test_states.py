"""Every state column's enum names exactly the values the schema allows, so neither can drift."""

from __future__ import annotations

import enum
import re
from pathlib import Path

import pytest

from bot.core.diff import EventState
from bot.core.event_mirror import RecordStatus
from bot.store.db import open_database
from bot.store.feeds import FeedStatus
from bot.store.mirror import DigestState
from bot.store.outbox import OutboxState
from bot.store.reminders import ReminderState, SubscriptionState

_CHECK = re.compile(r"CHECK \((\w+) IN \(([^)]*)\)\)")

STATE_COLUMNS: list[tuple[str, str, type[enum.StrEnum]]] = [
    ("feeds", "status", FeedStatus),
    ("events", "state", EventState),
    ("outbox", "state", OutboxState),
    ("subscriptions", "state", SubscriptionState),
    ("reminders", "state", ReminderState),
    ("mirror_events", "status", RecordStatus),
    ("weekly_digests", "state", DigestState),
]


def allowed_values(tmp_path: Path, table: str, column: str) -> set[str]:
    db = open_database(tmp_path / "bot.sqlite3")
    try:
        (sql,) = db.conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
        ).fetchone()
    finally:
        db.close()
    checks = {col: values for col, values in _CHECK.findall(sql)}
    return {v.strip().strip("'") for v in checks[column].split(",")}


@pytest.mark.parametrize(("table", "column", "states"), STATE_COLUMNS)
def test_state_enum_matches_the_schema_check(
    tmp_path: Path, table: str, column: str, states: type[enum.StrEnum]
) -> None:
    assert {s.value for s in states} == allowed_values(tmp_path, table, column)
