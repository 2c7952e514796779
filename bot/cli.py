"""Command line: ``seminar-bot preview | run | check-config``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bot import __version__
from bot.config import Config, FeedSettings, load_config
from bot.errors import ConfigError

SAMPLE_PATH = Path(__file__).resolve().parent / "data" / "sample.ics"
#: The bundled sample's talk is on 2019-11-05; preview it as of the week before.
SAMPLE_NOW = datetime(2019, 10, 30, 13, 0, tzinfo=UTC)


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
        "--now", type=_parse_now, help="pretend it is this ISO-8601 instant (default: now)"
    )
    preview.add_argument("--json", action="store_true", help="one JSON object per action per line")
    preview.add_argument(
        "--html", type=Path, metavar="FILE", help="also write the cards as Discord shows them"
    )
    preview.add_argument(
        "--timezone", default=None, help="zone for floating times and display (default: UTC)"
    )

    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("--config", type=Path, default=Path("config.toml"))

    run = commands.add_parser("run", help="run the bot (needs DISCORD_TOKEN)")
    run.add_argument("--config", type=Path, default=Path("config.toml"))

    health = commands.add_parser(
        "health", help="exit 0 if the running bot reports itself healthy (Docker HEALTHCHECK)"
    )
    health.add_argument("--file", type=Path, required=True, help="the bot's health file")
    return parser


def _parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time, e.g. 2019-10-30T09:00-04:00"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. 2019-10-30T09:00Z")
    return value.astimezone(UTC)


def feed_from_argument(location: str) -> FeedSettings:
    """A one-off feed named after its host or file, for ``preview URL``."""
    parts = urlsplit(location)
    if parts.scheme in ("http", "https", "webcal", "webcals") and parts.hostname:
        name = parts.hostname
    else:
        name = Path(location).stem or "feed"
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:32] or "feed"
    return FeedSettings(name=slug, url=location)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "preview":
            return _preview(args)
        if args.command == "check-config":
            config = load_config(args.config)
            print(
                f"{args.config}: OK ({len(config.feeds)} feed(s), database {config.storage_path})"
            )
            return 0
        if args.command == "health":
            from bot.service.health import check_health

            ok, why = check_health(args.file, now=datetime.now(UTC))
            print(why, file=sys.stdout if ok else sys.stderr)
            return 0 if ok else 1
        if args.command == "run":
            from bot.app import run_bot

            return run_bot(load_config(args.config))
    except ConfigError as exc:
        print(f"seminar-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    parser.print_help()
    return 2


def _preview(args: argparse.Namespace) -> int:
    from bot.service.preview import run_preview

    config: Config | None = load_config(args.config) if args.config else None
    now: datetime | None = args.now
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
    db_path = args.db if args.db else None
    return asyncio.run(
        run_preview(
            feeds,
            now=now or datetime.now(UTC),
            db_path=db_path,
            default_timezone=timezone,
            out=sys.stdout,
            err=sys.stderr,
            as_json=args.json,
            html_path=args.html,
        )
    )
