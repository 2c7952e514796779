"""Command line: ``seminar-bot preview | check-config | run | health | export | import``."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import __version__
from bot.boundary import run_command
from bot.config import Config, FeedSettings, apply_environment, load_config
from bot.errors import ConfigError, ExitCode
from bot.logsetup import setup_cli_logging

if TYPE_CHECKING:
    from sqlite_utils import Database

    from bot.service.preview import CardPageWriter

SAMPLE_PATH = Path(__file__).resolve().parent / "data" / "sample.ics"
#: The bundled sample's talk is on 2019-11-05; preview it as of the week before.
SAMPLE_NOW = datetime(2019, 10, 30, 13, 0, tzinfo=UTC)
#: Where the running bot writes its health file (the Docker image sets it).
HEALTH_FILE_ENV = "SEMINAR_BOT_HEALTH_FILE"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seminar-bot",
        description="Turn an iCalendar feed into Discord seminar announcements and reminders.",
    )
    parser.add_argument("--version", action="version", version=f"seminar-bot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    preview = commands.add_parser(
        "preview",
        help="dry run: print what the bot would post for a calendar (no Discord, no token)",
        description="Run one poll cycle through the real engine and print every action the "
        "bot would take. With no FEED and no --config, previews the bundled sample calendar.",
    )
    preview.add_argument("feed", nargs="?", help="calendar URL (http, https, webcal) or .ics path")
    preview.add_argument("--config", type=Path, help="preview every feed of this config file")
    preview.add_argument(
        "--db", type=Path, help="keep state in this SQLite file, so a rerun prints only changes"
    )
    preview.add_argument(
        "--now",
        type=_parse_now,
        help="pretend it is this ISO-8601 instant or date, e.g. 2026-03-01 (default: now)",
    )
    preview.add_argument("--json", action="store_true", help="one JSON object per action per line")
    preview.add_argument(
        "--html", type=Path, metavar="FILE", help="also write the cards as Discord shows them"
    )
    preview.add_argument(
        "--timezone", default=None, help="zone for floating times and display (default: UTC)"
    )

    check = commands.add_parser(
        "check-config",
        help="validate a config file and exit; --online also checks Discord and the feeds",
        description="Read and validate the config file the way `run` does and print a one-line "
        "summary, or every mistake with its key and line. With --online, also log in to Discord "
        "and fetch every feed: checks servers, channels, permissions and calendars, and prints "
        "the invite link (needs DISCORD_TOKEN). Exit 0 if all is well, 1 if the online check "
        "found problems, 2 for a config mistake, 3 if the token is refused.",
    )
    check.add_argument(
        "--config", type=Path, default=Path("config.toml"), help="default: config.toml"
    )
    check.add_argument(
        "--online",
        action="store_true",
        help="also log in to Discord and fetch every feed: checks servers, channels, "
        "permissions and calendars, and prints the invite link (needs DISCORD_TOKEN)",
    )

    run = commands.add_parser(
        "run",
        help="run the bot (needs DISCORD_TOKEN)",
        description="Log in to Discord and run until SIGTERM/SIGINT (exit 0). The token comes "
        "from DISCORD_TOKEN or the file named by DISCORD_TOKEN_FILE / [discord] token_file. "
        "SEMINAR_BOT_DB overrides the database path and SEMINAR_BOT_HEALTH_FILE names the "
        "health file. If Discord cannot be reached the bot says so and retries; errors it "
        "cannot recover from end it with exit 2 (config), 3 (token refused), 4 (Discord error) "
        "or 5 (database not writable).",
    )
    run.add_argument(
        "--config", type=Path, default=Path("config.toml"), help="default: config.toml"
    )

    health = commands.add_parser(
        "health",
        help="exit 0 if the running bot reports itself healthy (Docker HEALTHCHECK)",
        description="Read the health file the running bot rewrites every minute: exit 0 if it "
        "is fresh, the gateway is connected and every active feed polled recently, else 1.",
    )
    health.add_argument(
        "--file",
        type=Path,
        default=None,
        help=f"the bot's health file (default: ${HEALTH_FILE_ENV})",
    )
    _add_transfer_commands(commands)
    return parser


def _add_transfer_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export",
        help="write a server's feeds, events and subscriptions as JSON (to move it)",
        description="Read the database of --config (or SEMINAR_BOT_DB) and write the named "
        "servers (default: every server in it) as a versioned JSON document: feeds with their "
        "settings and state, announced events and their messages, reminder subscriptions and "
        "the posts still waiting to be sent. Used to move a server to another shard process.",
    )
    export.add_argument(
        "--config", type=Path, default=Path("config.toml"), help="default: config.toml"
    )
    export.add_argument(
        "--guild",
        type=_guild_id,
        action="append",
        default=[],
        metavar="ID",
        help="the server (guild) id; repeat for several",
    )
    export.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    imp = commands.add_parser(
        "import",
        help="merge an export into this process's database (refuses other shards' servers)",
        description="Merge the servers of an export into the database of --config. Importing "
        "the same file again changes nothing. Refuses a server that [discord] shard_count/"
        "shard_ids do not put on this process, and a database that holds other shards' "
        "servers. Afterwards the database belongs to this process's shards; (re)start it.",
    )
    imp.add_argument("file", type=Path, help="a file written by `seminar-bot export`")
    imp.add_argument(
        "--config", type=Path, default=Path("config.toml"), help="default: config.toml"
    )


def _guild_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**64):
        raise argparse.ArgumentTypeError(f"{text!r} is not a server (guild) id")
    return int(text)


def _parse_now(text: str) -> datetime | date:
    """An ISO-8601 instant with an offset, or a plain date (its midnight in --timezone)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time or date, e.g. 2019-10-30T09:00-04:00 or 2019-10-30"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. 2019-10-30T09:00Z")
    return value.astimezone(UTC)


def _resolve_now(value: datetime | date, timezone: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--timezone {timezone!r} is not an IANA time zone") from None
    return datetime.combine(value, time(0), zone).astimezone(UTC)


def feed_from_argument(location: str) -> FeedSettings:
    """A one-off feed for ``preview URL``, named after its host or file.

    The name is the feed's identity in a ``--db`` store, so it ends in a digest of the whole
    location: two files (or paths on one host) with similar names never share a feed's state.
    """
    parts = urlsplit(location)
    if parts.scheme in ("http", "https", "webcal", "webcals") and parts.hostname:
        name, identity = parts.hostname, location.strip()
    else:
        local = Path(unquote(parts.path)) if parts.scheme == "file" else Path(location)
        name, identity = local.stem or "feed", local.resolve().as_uri()
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:23]
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return FeedSettings(name=f"{slug.strip('-') or 'feed'}-{digest}", url=location)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS.get(args.command or "")
    if handler is None:
        parser.print_help()
        return int(ExitCode.CONFIG)
    if args.command != "run":
        setup_cli_logging()
    return run_command(lambda: handler(args))


def _check_config(args: argparse.Namespace) -> int:
    from bot.service.doctor import check_config

    return check_config(args.config, online=args.online)


def _run(args: argparse.Namespace) -> int:
    from bot.app import run_bot

    return run_bot(load_config(args.config, require_routing=True))


def _health(args: argparse.Namespace) -> int:
    from bot.service.health import check_health

    path: Path | None = args.file
    if path is None:
        env = os.environ.get(HEALTH_FILE_ENV)
        if not env:
            raise ConfigError(f"no health file: pass --file or set {HEALTH_FILE_ENV}")
        path = Path(env)
    ok, why = check_health(path, now=datetime.now(UTC))
    print(why, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else int(ExitCode.FAILED)


def _export(args: argparse.Namespace) -> int:
    from bot.service.transfer import export_guilds

    config = apply_environment(load_config(args.config))
    db = _open_existing(config)
    try:
        document = export_guilds(db, args.guild, now=datetime.now(UTC))
    finally:
        db.close()
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    guilds = ", ".join(g["guild_id"] for g in document["guilds"])
    print(f"wrote {args.out}: server(s) {guilds or 'none'}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from bot.service.transfer import import_guilds, read_document
    from bot.store.db import open_database

    config = apply_environment(load_config(args.config))
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {args.file}: {exc}") from None
    guilds = read_document(text, source=str(args.file))
    config.storage_path.parent.mkdir(parents=True, exist_ok=True)
    db = open_database(config.storage_path)
    try:
        done = import_guilds(
            db,
            guilds,
            config.discord.shards,
            where=str(config.storage_path),
            now=datetime.now(UTC),
        )
    finally:
        db.close()
    for item in done:
        print(f"imported server {item.guild_id}: {item.feeds} feed(s), {item.new_rows} new row(s)")
    print(f"{config.storage_path} now holds {config.discord.shards.describe()}; (re)start it")
    return 0


def _open_existing(config: Config) -> Database:
    from bot.store.db import open_database

    if not config.storage_path.exists():
        raise ConfigError(f"no database at {config.storage_path} (check [storage] path)")
    return open_database(config.storage_path)


def _preview(args: argparse.Namespace) -> int:
    from bot.service.preview import run_preview

    config: Config | None = load_config(args.config) if args.config else None
    now: datetime | date | None = args.now
    if args.feed:
        feeds: tuple[FeedSettings, ...] = (feed_from_argument(args.feed),)
    elif config is not None:
        feeds = config.feeds
        if not feeds:
            raise ConfigError(f"{args.config}: no [[feeds]] to preview")
    else:
        feeds = (FeedSettings(name="sample", url=str(SAMPLE_PATH)),)
        if now is None:
            now = SAMPLE_NOW
            print(
                "Previewing the bundled sample calendar (a 2019 CS seminar) as of "
                f"{SAMPLE_NOW:%Y-%m-%d %H:%M} UTC, the week before its talk. "
                "Pass a calendar URL or --config to preview your own.",
                file=sys.stderr,
            )
    timezone = args.timezone or (config.timezone if config else "UTC")
    instant = _resolve_now(now, timezone) if now is not None else datetime.now(UTC)
    db_path = args.db if args.db else None
    return asyncio.run(
        run_preview(
            feeds,
            now=instant,
            db_path=db_path,
            default_timezone=timezone,
            out=sys.stdout,
            err=sys.stderr,
            as_json=args.json,
            html_path=args.html,
            write_cards=_card_page_writer() if args.html else None,
        )
    )


def _card_page_writer() -> CardPageWriter:
    """The Discord layer's card renderer, loaded only when a page is asked for."""
    from bot.discord_ui.card_page import write_card_page

    return write_card_page


#: One handler per subcommand; the boundary in ``main`` turns its failures into exit codes.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "preview": _preview,
    "check-config": _check_config,
    "run": _run,
    "health": _health,
    "export": _export,
    "import": _import,
}
