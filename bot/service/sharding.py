"""What a shard process may touch: its database's servers, and the feeds of its shards.

A sharded bot runs one process per range of shards, each with its own SQLite file. The file
remembers which servers it holds (``shard_layout``); a process configured for other shards
refuses it, because it would silently stop serving some servers (or serve them twice, next
to the process that now owns them). Servers move between files only through
``seminar-bot export`` / ``import`` (``service/transfer.py``), which records the new layout.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.core.shards import EVERY_SERVER, ShardSet
from bot.errors import ExitCode, StartupFailure
from bot.service.feeds import poll_schedule
from bot.store import feeds as feed_store
from bot.store import shard_layout


class ShardLayoutMismatch(StartupFailure):
    """The database holds the servers of another shard layout than the config's."""

    reason = "shard-layout"

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=ExitCode.CONFIG)


def claim_database(db: Database, shards: ShardSet, *, where: str, now: datetime) -> None:
    """Record this process's shards in a new database; refuse one another layout wrote.

    A database from before sharding, with feeds in it, holds every server.
    """
    recorded = shard_layout.recorded_shards(db)
    wanted = shards.to_record()
    if recorded is None:
        if shard_layout.has_feeds(db) and wanted != EVERY_SERVER:
            shard_layout.record_shards(db, EVERY_SERVER, how="existing", now=now)
            recorded = EVERY_SERVER
        else:
            shard_layout.record_shards(db, wanted, how="start", now=now)
            return
    if recorded == wanted:
        return
    holds = ShardSet.from_record(recorded).describe()
    raise ShardLayoutMismatch(
        f"the database {where} holds the servers of {holds}, but [discord] shard_count/"
        f"shard_ids configure {shards.describe()}; give each shard process its own database "
        "file (e.g. seminar-bot-shard0.sqlite) and move servers with `seminar-bot export` and "
        "`seminar-bot import` (README: Running for many servers)"
    )


def adopt_layout(db: Database, shards: ShardSet, *, now: datetime) -> None:
    """After an explicit import: this database now belongs to the importing shards."""
    shard_layout.record_shards(db, shards.to_record(), how="import", now=now)


def added_feeds_schedule(
    db: Database, shards: ShardSet
) -> list[tuple[int, timedelta, datetime | None]]:
    """The poll schedule of the feeds added from Discord (or imported) on this process's shards.

    Feeds from the config file are scheduled from the config (``sync_config_feeds``).
    """
    rows = [
        row
        for row in feed_store.list_feeds(db)
        if row.settings.get("source") != "config" and shards.owns(row.guild_id)
    ]
    return poll_schedule(rows)
