"""The one set of helpers every store module uses to turn SQLite rows into typed values.

Timestamps are stored as fixed-width UTC ISO text, so they sort and compare as text; a stored
timestamp without an offset is a bug and is refused rather than guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

#: One row as a column-name → value mapping.
Row = dict[str, Any]


def ts(value: datetime) -> str:
    """Fixed-width UTC ISO, so stored timestamps sort and compare as text."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def opt_dt(value: str | None) -> datetime | None:
    """A stored timestamp (or NULL) back as an aware UTC datetime."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"stored timestamp without offset: {value!r}")
    return parsed.astimezone(UTC)


def dt(value: str) -> datetime:
    """A stored NOT NULL timestamp back as an aware UTC datetime."""
    parsed = opt_dt(value)
    assert parsed is not None
    return parsed


def wall_clock(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def one(db: Database, sql: str, params: list[Any]) -> Row | None:
    """The first row of a query, or None."""
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def all_rows(db: Database, sql: str, params: list[Any]) -> list[Row]:
    """Every row of a query."""
    cursor = db.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
