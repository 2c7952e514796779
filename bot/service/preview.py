"""The dry run: one poll cycle through the real engine, printing what would be posted.

Nothing is sent anywhere. With a database file the state persists between runs, so previewing
successive versions of a feed prints only what changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol, TextIO

from bot.clock import FixedClock
from bot.config import FeedSettings
from bot.core.models import Action, ParsedFeed, sort_key
from bot.core.render import (
    action_as_json,
    build_card,
    card_as_text,
    format_when_local,
    understood_as_text,
)
from bot.errors import FeedError
from bot.feeds.http import Downloaded, FeedFetcher
from bot.feeds.isolate import ParserPool
from bot.service.dbthread import DatabaseThread
from bot.service.feeds import card_templates
from bot.service.poller import Poller, PollOutcome
from bot.store import feeds as feed_store
from bot.store.db import open_database


class CardPageWriter(Protocol):
    """Writes the cards a preview found as a page; the Discord layer's renderer, handed in by
    the command line so this layer never imports it."""

    def __call__(
        self,
        path: Path,
        feeds: Sequence[tuple[FeedSettings, ParsedFeed, Sequence[Action]]],
        *,
        now: datetime,
        default_timezone: str,
    ) -> int: ...


async def run_preview(
    feeds: Sequence[FeedSettings],
    *,
    now: datetime,
    db_path: str | os.PathLike[str] | None,
    default_timezone: str,
    out: TextIO,
    err: TextIO,
    as_json: bool = False,
    html_path: Path | None = None,
    write_cards: CardPageWriter | None = None,
) -> int:
    """Poll each feed once and print its actions; 0 when every feed was read, else 1.

    ``html_path`` also writes the cards the bot would send, as Discord would show them, with
    ``write_cards``.
    """
    if html_path is not None and write_cards is None:
        raise ValueError("html_path needs write_cards")
    db_thread = DatabaseThread()
    try:
        db = await db_thread.run(open_database, db_path)
        async with FeedFetcher() as fetcher, ParserPool() as parser:
            poller = Poller(
                db=db,
                db_thread=db_thread,
                fetcher=fetcher,
                parser=parser,
                clock=FixedClock(now),
                default_timezone=default_timezone,
            )
            failures = 0
            samples: list[tuple[FeedSettings, ParsedFeed, tuple[Action, ...]]] = []
            for settings in feeds:
                # A dry run shows what *would* be posted, so a new feed announces its window.
                settings = replace(settings, baseline="announce")
                row = await db_thread.run(
                    feed_store.upsert_feed,
                    db,
                    name=settings.name,
                    url=settings.url,
                    guild_id=settings.guild_id,
                    channel_id=settings.channel_id,
                )
                outcome = await poller.poll(row.id, settings, trusted=True)
                failures += _report(outcome, settings, default_timezone, out, err, as_json)
                if outcome.parsed is not None and not outcome.actions:
                    window_end = now + settings.announce_window
                    if not any(
                        now <= sort_key(o.start) < window_end for o in outcome.parsed.occurrences
                    ):
                        zone = settings.timezone or default_timezone
                        await _explain_empty_window(fetcher, parser, settings, now, zone, err)
                if outcome.parsed is not None:
                    samples.append((settings, outcome.parsed, outcome.actions))
        await db_thread.run(db.close)
    finally:
        db_thread.close()
    if html_path is not None and write_cards is not None:
        try:
            written = write_cards(html_path, samples, now=now, default_timezone=default_timezone)
        except OSError as exc:
            print(f"seminar-bot: cannot write {html_path}: {exc.strerror or exc}", file=err)
            return 1
        print(f"Wrote {written} card(s) to {html_path}.", file=err)
    return 1 if failures else 0


#: How far around "now" the empty-window hint looks for the feed's first and last events.
SPAN_LOOKAROUND = timedelta(days=366 * 15)


async def _explain_empty_window(
    fetcher: FeedFetcher,
    parser: ParserPool,
    settings: FeedSettings,
    now: datetime,
    zone: str,
    err: TextIO,
) -> None:
    """Nothing to announce: say when the feed's events are, and which ``--now`` shows one."""
    try:
        fetched = await fetcher.fetch(settings.url, trusted=True)
        if not isinstance(fetched, Downloaded):
            return
        parsed = await parser.parse(
            fetched.body,
            window_start=now - SPAN_LOOKAROUND,
            window_end=now + SPAN_LOOKAROUND,
            default_timezone=zone,
        )
    except FeedError:
        return  # the poll already said what is wrong with the feed
    starts = sorted(sort_key(o.start) for o in parsed.occurrences)
    if not starts:
        print(f"Feed {settings.name!r} has no events at all.", file=err)
        return
    first, last = starts[0], starts[-1]
    upcoming = [s for s in starts if s >= now]
    target = upcoming[0] if upcoming else last
    suggestion = (target - timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    print(
        f"Feed {settings.name!r}: nothing to announce in the "
        f"{settings.announce_window.days} day(s) after {now:%Y-%m-%d %H:%M} UTC. "
        f"Its events run from {_day(first)} to {_day(last)}; "
        f"try --now {suggestion} to preview the day before "
        f"{'its next' if upcoming else 'its latest'} event.",
        file=err,
    )


def _day(value: datetime | date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def _report(
    outcome: PollOutcome,
    settings: FeedSettings,
    default_timezone: str,
    out: TextIO,
    err: TextIO,
    as_json: bool,
) -> int:
    if outcome.status in ("failed", "deferred"):
        assert outcome.error is not None
        print(
            f"seminar-bot: feed {settings.name!r} could not be read "
            f"({outcome.error.reason}): {outcome.error}",
            file=err,
        )
        return 1
    if outcome.status == "not_modified":
        print(f"Feed {settings.name!r}: not modified since the last poll.", file=err)
        return 0
    parsed = outcome.parsed
    assert parsed is not None
    summary = (
        f"Feed {settings.name!r}"
        + (f" ({parsed.calendar_name})" if parsed.calendar_name else "")
        + f": {len(parsed.occurrences)} event(s) in the window, "
        f"{len(outcome.actions)} action(s)"
        + (f", {parsed.skipped_total} skipped (bad or over budget)" if parsed.skipped else "")
        + "."
    )
    print(summary, file=err, flush=True)
    if outcome.deferred:
        print(
            f"Feed {settings.name!r}: {outcome.deferred} more announcement(s) held back by the "
            "per-poll limit; the following polls would post them, soonest first.",
            file=err,
        )
    if outcome.status == "suspect":
        print(
            f"Feed {settings.name!r} looks broken, so nothing would be posted: "
            f"{outcome.suspect_reason}",
            file=err,
        )
    zone = settings.timezone or default_timezone
    templates = card_templates(settings)
    for action in outcome.actions:
        if as_json:
            print(json.dumps(action_as_json(action, zone), ensure_ascii=False), file=out)
        else:
            card = build_card(
                action,
                lambda occ: format_when_local(occ, zone),
                templates=templates,
                zone=zone,
            )
            print(card_as_text(action, card), file=out)
            print(understood_as_text(action.occurrence), file=out)
            print(file=out, flush=True)
    return 0
