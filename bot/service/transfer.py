"""Moving servers between databases: ``seminar-bot export`` and ``seminar-bot import``.

After a reshard a server can land on a shard another process runs; its feeds (with their
settings and poll state), the events already announced and the messages that announce them,
members' reminder subscriptions, Events-tab mirrors, weekly digests and the posts still
waiting in the outbox move with it, so the new process edits the old messages instead of
posting them again. The document is JSON with a format name and version; an import is
idempotent and refuses servers the importing process's shards do not own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.core.shards import ShardSet, shard_of
from bot.errors import ExitCode, SeminarBotError
from bot.service.sharding import adopt_layout
from bot.store import transfer as transfer_store

EXPORT_FORMAT = "seminar-bot-export"
#: Bump when a reader of the old version would misread the new one.
EXPORT_VERSION = 1


class TransferRefused(SeminarBotError):
    """The export or import cannot be done as asked; the message says why and what to do."""

    reason = "transfer"
    exit_code = ExitCode.CONFIG


@dataclass(frozen=True)
class Imported:
    guild_id: int
    feeds: int
    new_rows: int


def export_guilds(db: Database, guild_ids: list[int], *, now: datetime) -> dict[str, Any]:
    """The document for these servers (every server in the database when none is named)."""
    present = transfer_store.guild_ids(db)
    missing = [g for g in guild_ids if g not in present]
    if missing:
        raise TransferRefused(
            f"server {missing[0]} has no feeds or subscriptions in this database "
            f"(it holds: {', '.join(str(g) for g in present) or 'no servers'})"
        )
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": now.isoformat(),
        "guilds": [
            {"guild_id": str(g), **transfer_store.read_guild(db, g)} for g in (guild_ids or present)
        ],
    }


def read_document(text: str, *, source: str) -> list[tuple[int, dict[str, Any]]]:
    """(guild id, tables) for every server in an export; a clear error for anything else."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise TransferRefused(f"{source}: not a seminar-bot export (not JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise TransferRefused(f"{source}: not a seminar-bot export (no format {EXPORT_FORMAT!r})")
    if doc.get("version") != EXPORT_VERSION:
        raise TransferRefused(
            f"{source}: export version {doc.get('version')!r}; this seminar-bot reads "
            f"version {EXPORT_VERSION} (import it with the release that wrote it, or newer)"
        )
    guilds = []
    for entry in doc.get("guilds") or []:
        raw = entry.get("guild_id") if isinstance(entry, dict) else None
        if not (isinstance(raw, str) and raw.isdigit()):
            raise TransferRefused(f"{source}: a server entry has no valid guild_id")
        tables = {k: v for k, v in entry.items() if k != "guild_id"}
        if not all(
            isinstance(v, list) and all(isinstance(r, dict) for r in v) for v in tables.values()
        ):
            raise TransferRefused(f"{source}: server {raw}: every table must be a list of rows")
        guilds.append((int(raw), tables))
    return guilds


def import_guilds(
    db: Database,
    guilds: list[tuple[int, dict[str, Any]]],
    shards: ShardSet,
    *,
    where: str,
    now: datetime,
) -> list[Imported]:
    """Merge the servers into this process's database and record its shards as its layout."""
    foreign = [g for g, _ in guilds if not shards.owns(g)]
    if foreign:
        count = shards.count or 1
        raise TransferRefused(
            "; ".join(f"server {g} is on shard {shard_of(g, count)} of {count}" for g in foreign)
            + f", not on this process's {shards.describe()}: import it with the config of the "
            "process that runs that shard"
        )
    others = [g for g in transfer_store.guild_ids(db) if not shards.owns(g)]
    if others:
        raise TransferRefused(
            f"the database {where} also holds server(s) "
            f"{', '.join(str(g) for g in others)} of other shards; import into the database of "
            f"the process that runs {shards.describe()} (a new file is fine)"
        )
    done = []
    for guild_id, tables in guilds:
        new_rows = transfer_store.write_guild(db, guild_id, tables, now=now)
        done.append(Imported(guild_id, len(tables.get("feeds", [])), new_rows))
    adopt_layout(db, shards, now=now)
    return done
