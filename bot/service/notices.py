"""Admin notices are said once: the key decides whether a notice is new."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from bot.store import delivery_repo


def first_notice(db: Database, key: str, *, guild_id: int, text: str, now: datetime) -> bool:
    """Remember the notice; True only the first time its key is seen (then it is sent)."""
    return delivery_repo.record_notice(db, key, guild_id=guild_id, text=text, now=now)


def forget_notice(db: Database, key: str) -> None:
    """Let the notice with this key be said again (the condition it reported was fixed)."""
    delivery_repo.forget_notice(db, key)
