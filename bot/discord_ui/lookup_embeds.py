"""Lookup answers as embeds: compact lists, the full event, autocomplete labels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import discord

from bot.core.models import Action, ActionKind, Occurrence
from bot.core.render import speaker_line, truncate, zone_of
from bot.core.templates import CardTemplates
from bot.discord_ui.embeds import announcement_embed, format_when_discord, inert, unix
from bot.discord_ui.views import LazyPages
from bot.service.records import EventHit

PER_PAGE = 8
LIST_COLOUR = 0x2B6CB0
CHOICE_LIMIT = 100


def when_compact(occ: Occurrence) -> str:
    """``<t:…:F> (<t:…:R>)`` for timed events; the date alone for all-day ones."""
    if isinstance(occ.start, datetime):
        return f"<t:{unix(occ.start)}:F> (<t:{unix(occ.start)}:R>)"
    return format_when_discord(occ)


def event_line(hit: EventHit) -> str:
    occ = hit.occurrence
    title = inert(truncate(occ.title, 120))
    speaker = speaker_line(occ)
    parts = [f"**{title}**"]
    if speaker:
        parts.append(f"— {inert(truncate(speaker, 100))}")
    lines = [" ".join(parts), when_compact(occ)]
    if occ.place:
        lines[-1] += f" · {inert(truncate(occ.place, 80))}"
    return "\n".join(lines)


def list_pages(hits: Sequence[EventHit], *, title: str, empty: str, footer: str = "") -> LazyPages:
    """Pages of at most ``PER_PAGE`` entries (far below the 4,096-character description cap),
    each rendered when it is first shown: a member usually reads only the first of them."""
    count = max(1, -(-len(hits) // PER_PAGE))

    def page(index: int) -> discord.Embed:
        if not hits:
            return discord.Embed(title=title, description=empty, colour=LIST_COLOUR)
        chunk = hits[index * PER_PAGE : (index + 1) * PER_PAGE]
        embed = discord.Embed(
            title=title,
            description="\n\n".join(event_line(h) for h in chunk),
            colour=LIST_COLOUR,
        )
        note = f"Page {index + 1} of {count} · {len(hits)} events"
        embed.set_footer(text=truncate(f"{note} · {footer}" if footer else note, 2048))
        return embed

    return LazyPages(count, page)


def event_embed(
    hit: EventHit, *, templates: CardTemplates | None = None, zone: str = "UTC"
) -> discord.Embed:
    """The full card (long abstract and the speaker's bio), marked cancelled when it is,
    titled with the feed's templates like the card in the channel."""
    kind = ActionKind.CANCEL if hit.occurrence.cancelled else ActionKind.ANNOUNCE
    action = Action(kind=kind, feed=hit.feed_name, occurrence=hit.occurrence)
    return announcement_embed(action, full=True, templates=templates, zone=zone)


def choice_label(hit: EventHit, fallback_zone: str) -> str:
    """``Thu 3 Dec 15:30 · Speaker — Title`` in the feed's zone, at most 100 characters.

    Autocomplete cannot render Discord timestamps, so the date is written out.
    """
    occ = hit.occurrence
    start = occ.start
    if isinstance(start, datetime):
        zone: ZoneInfo = zone_of(occ, fallback_zone)
        local = start.astimezone(zone)
        when = f"{local:%a} {local.day} {local:%b %H:%M}"
    else:
        when = f"{start:%a} {start.day} {start:%b}"
    speaker = occ.seminar.speaker
    text = f"{when} · {speaker} — {occ.title}" if speaker else f"{when} · {occ.title}"
    return truncate(" ".join(text.split()), CHOICE_LIMIT)
