"""Admin notices are said once: the key decides whether a notice is new."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from bot.store import outbox as outbox_store


def first_notice(db: Database, key: str, *, guild_id: int, text: str, now: datetime) -> bool:
    """Remember the notice; True only the first time its key is seen (then it is sent)."""
    return outbox_store.record_notice(db, key, guild_id=guild_id, text=text, now=now)


def forget_notice(db: Database, key: str) -> None:
    """Let the notice with this key be said again (the condition it reported was fixed)."""
    outbox_store.forget_notice(db, key)
