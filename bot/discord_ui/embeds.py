"""Cards and occurrences as Discord embeds: no I/O, just presentation.

Feed text is untrusted. It was cleaned at parse time (controls, bidi, HTML); here it is made
inert for Discord: mentions, channel links, slash-command links and timestamps are escaped and
markdown is neutralised, so a SUMMARY of ``@everyone`` is shown, never obeyed.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import discord

from bot.core.models import Action, Occurrence, SeminarDetails
from bot.core.render import Card, build_card, format_when_local, headline, truncate
from bot.core.text import inert as inert  # re-exported: the Discord edge imports it here

DIGEST_EMBEDS = 10


def inert_occurrence(occ: Occurrence) -> Occurrence:
    seminar = occ.seminar
    return replace(
        occ,
        summary=inert(occ.summary),
        description=inert(occ.description),
        location=inert(occ.location),
        seminar=SeminarDetails(
            series=inert(seminar.series),
            speaker=inert(seminar.speaker),
            affiliation=inert(seminar.affiliation),
            title=inert(seminar.title),
            location=inert(seminar.location),
            abstract=inert(seminar.abstract),
            bio=inert(seminar.bio),
            video=inert(seminar.video),
        ),
    )


def inert_action(action: Action) -> Action:
    return replace(
        action,
        feed=inert(action.feed),
        occurrence=inert_occurrence(action.occurrence),
        previous=inert_occurrence(action.previous) if action.previous else None,
        # A room change's new text is quoted in the follow-up line: feed text like the rest.
        changes=tuple(replace(c, old=inert(c.old), new=inert(c.new)) for c in action.changes),
    )


def unix(value: datetime) -> int:
    return int(value.astimezone(UTC).timestamp())


def format_when_discord(occ: Occurrence, *, relative: bool = True) -> str:
    """Timed events as Discord timestamps (each reader sees their own zone); all-day as dates."""
    start, end = occ.start, occ.end
    if not isinstance(start, datetime):
        return format_when_local(occ)
    text = f"<t:{unix(start)}:F>"
    if isinstance(end, datetime) and end > start:
        short = end - start <= timedelta(hours=12)
        text += f" – <t:{unix(end)}:{'t' if short else 'F'}>"
    return text + (f" (<t:{unix(start)}:R>)" if relative else "")


def format_was_discord(occ: Occurrence) -> str:
    """An old time, for "(was …)": no countdown to a time that no longer applies."""
    return format_when_discord(occ, relative=False)


def reference_marker(idem_key: str) -> str:
    """A short tag in the footer that lets a restarted bot recognise its own earlier post."""
    return "ref " + hashlib.sha256(idem_key.encode()).hexdigest()[:10]


def card_to_embed(card: Card, *, marker: str = "") -> discord.Embed:
    embed = discord.Embed(
        title=card.title,
        description=card.description or None,
        colour=discord.Colour(card.colour),
        url=card.url if card.url.startswith(("https://", "http://")) else None,
    )
    for name, value in card.fields:
        if value:
            embed.add_field(name=name, value=value, inline=name in ("When", "Where"))
    footer = " · ".join(part for part in (card.footer, marker) if part)
    if footer:
        embed.set_footer(text=truncate(footer, 2048))
    return embed


def announcement_embed(action: Action, *, marker: str = "") -> discord.Embed:
    card = build_card(inert_action(action), format_when_discord, format_was_discord)
    return card_to_embed(card, marker=marker)


def compact_embed(action: Action, *, marker: str = "") -> discord.Embed:
    """A digest entry: title, speaker, time and place in under 600 characters."""
    card = build_card(inert_action(action), format_when_discord, format_was_discord)
    fields = tuple(
        (n, truncate(v, 200)) for n, v in card.fields if n in ("Speaker", "When", "Where")
    )
    compact = replace(
        card, title=truncate(card.title, 200), description="", fields=fields, footer=card.footer
    )
    return card_to_embed(compact, marker=marker)


def headline_text(action: Action) -> str:
    """The follow-up line for attendee-relevant changes (time, place, cancellation), or ""."""
    return headline(inert_action(action), format_when_discord)
