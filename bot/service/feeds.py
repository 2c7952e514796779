"""Feed settings live in the database (``feeds.settings_json``); the config file seeds them.

Feeds from the operator's file and feeds added from Discord are the same thing once stored,
so everything downstream reads ``FeedSettings`` from here, never from the config directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.config import Config, FeedSettings
from bot.core.durations import format_duration, parse_duration
from bot.core.render import template_values
from bot.core.seminar.feed_pattern import FeedPatternError, compile_pattern
from bot.core.templates import CardTemplates, TemplateError, parse_template
from bot.core.text import inert
from bot.core.weekly_digest import parse_spec
from bot.store import feeds as feed_store
from bot.store import search as search_store
from bot.store.db import open_database


def settings_to_dict(settings: FeedSettings) -> dict[str, Any]:
    return {
        "poll_interval": format_duration(settings.poll_interval),
        "announce_window": format_duration(settings.announce_window),
        "include": list(settings.include),
        "exclude": list(settings.exclude),
        "mention_role_id": settings.mention_role_id,
        "reminder_offsets": [format_duration(o) for o in settings.reminder_offsets],
        "timezone": settings.timezone,
        "baseline": settings.baseline,
        "paused": settings.paused,
        "scheduled_events": settings.scheduled_events,
        "digest": settings.digest,
        "talk_threads": settings.talk_threads,
        "seminar_summary_pattern": settings.seminar_summary_pattern,
        "seminar_description_pattern": settings.seminar_description_pattern,
        "title_template": settings.title_template,
        "lead_template": settings.lead_template,
        "source": "config",
    }


def _duration(data: dict[str, Any], key: str, default: timedelta) -> timedelta:
    try:
        return parse_duration(str(data[key]))
    except (KeyError, ValueError):
        return default


def settings_from_row(row: feed_store.FeedRow) -> FeedSettings:
    """The feed's settings; unknown or damaged keys fall back to defaults, never crash."""
    data = row.settings
    defaults = FeedSettings(name=row.name, url=row.url)
    offsets_raw = data.get("reminder_offsets")
    offsets: tuple[timedelta, ...] = defaults.reminder_offsets
    if isinstance(offsets_raw, list):
        parsed = []
        for item in offsets_raw:
            try:
                parsed.append(parse_duration(str(item)))
            except ValueError:
                continue
        offsets = tuple(sorted(set(parsed), reverse=True))
    role = data.get("mention_role_id")
    return FeedSettings(
        name=row.name,
        url=row.url,
        channel_id=row.channel_id,
        guild_id=row.guild_id,
        poll_interval=_duration(data, "poll_interval", defaults.poll_interval),
        announce_window=_duration(data, "announce_window", defaults.announce_window),
        include=tuple(str(w) for w in data.get("include", ()) if str(w).strip()),
        exclude=tuple(str(w) for w in data.get("exclude", ()) if str(w).strip()),
        mention_role_id=int(role) if isinstance(role, int) and role > 0 else None,
        reminder_offsets=offsets,
        timezone=str(data.get("timezone", "") or ""),
        baseline="announce" if data.get("baseline") == "announce" else "silent",
        paused=bool(data.get("paused", False)) or row.status == "paused",
        scheduled_events=data.get("scheduled_events") is True,
        digest=_digest(data.get("digest")),
        talk_threads=data.get("talk_threads") is True,
        seminar_summary_pattern=_pattern(data.get("seminar_summary_pattern")),
        seminar_description_pattern=_pattern(data.get("seminar_description_pattern")),
        title_template=_template(data.get("title_template")),
        lead_template=_template(data.get("lead_template")),
    )


def _template(raw: Any) -> str:
    """A stored card template, "" when missing or no longer valid (the default card)."""
    if not isinstance(raw, str) or not raw.strip():
        return ""
    try:
        parse_template(raw)
    except TemplateError:
        return ""
    return raw


def next_talk_preview(
    db: Database, row: feed_store.FeedRow, *, now: datetime
) -> tuple[str, str] | None:
    """The feed's templated title and lead line on its next stored talk, made inert for
    Discord; None without templates or upcoming talks."""
    settings = settings_from_row(row)
    templates = card_templates(settings)
    if templates is None:
        return None
    hits = search_store.upcoming(db, row.guild_id, now=now, feed=row.name, limit=1)
    if not hits:
        return None
    occurrence = hits[0].occurrence
    raw = template_values(occurrence, row.name, settings.timezone or "UTC")
    values = {name: inert(value) for name, value in raw.items()}
    return templates.render_title(values, inert(occurrence.title)), templates.render_lead(values)


def card_style(settings: FeedSettings) -> tuple[CardTemplates | None, str]:
    """The feed's card templates and the zone their date and time are written in: the one
    style every card of the feed is drawn with (channel, lookups, the preview page)."""
    return card_templates(settings), settings.timezone or "UTC"


def card_templates(settings: FeedSettings) -> CardTemplates | None:
    """The feed's parsed card templates, or None for the default card."""
    if not (settings.title_template or settings.lead_template):
        return None
    try:
        return CardTemplates.from_sources(settings.title_template, settings.lead_template)
    except TemplateError:
        return None


def _digest(raw: Any) -> str:
    try:
        return str(parse_spec(raw)) if isinstance(raw, str) and raw.strip() else ""
    except ValueError:
        return ""


def sync_config_feeds(db: Database, config: Config, *, now: datetime) -> list[feed_store.FeedRow]:
    """Write the config file's feeds into the store, keeping their poll state and events.

    A shard process takes only the feeds of the servers on its shards.
    """
    rows = []
    for feed in config.feeds:
        if not config.discord.shards.owns(feed.guild_id):
            continue
        rows.append(
            feed_store.upsert_feed(
                db,
                name=feed.name,
                url=feed.url,
                guild_id=feed.guild_id,
                channel_id=feed.channel_id,
                settings=settings_to_dict(feed),
                now=now,
            )
        )
    return rows


def open_store(config: Config) -> Database:
    """Open and migrate the operator's database; the calling thread then owns the connection."""
    return open_database(config.storage_path)


def poll_schedule(
    rows: list[feed_store.FeedRow],
) -> list[tuple[int, timedelta, datetime | None]]:
    """(feed id, poll interval, next due) for every feed that should be on the poll schedule."""
    return [
        (row.id, settings.poll_interval, row.next_poll_at)
        for row, settings in ((r, settings_from_row(r)) for r in rows)
        if not settings.paused
    ]


def _pattern(raw: Any) -> str:
    """A stored seminar pattern, "" when missing or no longer valid (never a crash at poll)."""
    if not isinstance(raw, str) or not raw:
        return ""
    try:
        compile_pattern(raw)
    except FeedPatternError:
        return ""
    return raw
