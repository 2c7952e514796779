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

from bot.core.ics_export import GOOGLE_TEMPLATE, google_calendar_link
from bot.core.models import Action, Occurrence
from bot.core.render import (
    EMBED_TOTAL_LIMIT,
    Card,
    build_card,
    format_when_local,
    headline,
    truncate,
)
from bot.core.templates import CardTemplates
from bot.core.text import inert as inert  # re-exported: the Discord edge imports it here

DIGEST_EMBEDS = 10
#: Discord's embed links have no documented cap; stay far below what browsers accept.
MARKED_LINK_LIMIT = 2000
#: A longer event link would cost the card more than the abstract it points to.
READ_MORE_LINK_LIMIT = 400


def inert_occurrence(occ: Occurrence) -> Occurrence:
    seminar = occ.seminar
    return replace(
        occ,
        summary=inert(occ.summary),
        description=inert(occ.description),
        location=inert(occ.location),
        seminar=replace(
            seminar,
            series=inert(seminar.series),
            speaker=inert(seminar.speaker),
            affiliation=inert(seminar.affiliation),
            title=inert(seminar.title),
            location=inert(seminar.location),
            abstract=inert(seminar.abstract),
            bio=inert(seminar.bio),
            video=inert(seminar.video),
            speakers=tuple(inert(name) for name in seminar.speakers),
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
    """A tag that lets a restarted bot recognise its own earlier post in channel history.

    It travels in the fragment of the embed's link (see ``marked_link``): Discord keeps the
    link exactly as sent but never shows it as text, so members see no internal id.
    """
    return "sb-" + hashlib.sha256(idem_key.encode()).hexdigest()[:10]


def _legacy_marker(idem_key: str) -> str:
    """The footer text older releases wrote, still recognised after an upgrade."""
    return "ref " + hashlib.sha256(idem_key.encode()).hexdigest()[:10]


def _is_web_link(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def marked_link(occ: Occurrence, marker: str) -> str:
    """The card's link with ``marker`` in its fragment.

    The fragment never reaches the web server, so the event page opens as usual. An event
    without its own page links to Google Calendar's "add event" form instead, which is useful
    to the reader and gives the marker a place. A link that already has a fragment keeps it:
    the marker goes into the query, which pages ignore when they do not know it.
    """
    base = occ.url if _is_web_link(occ.url) else google_calendar_link(occ, limit=1500)
    if len(base) > MARKED_LINK_LIMIT:
        base = GOOGLE_TEMPLATE + "?action=TEMPLATE"
    if "#" not in base:
        return f"{base}#{marker}"
    head, _, fragment = base.partition("#")
    return f"{head}{'&' if '?' in head else '?'}{marker}#{fragment}"


def carries_marker(embed: discord.Embed, idem_key: str) -> bool:
    """Whether ``embed`` is the post of the outbox row with ``idem_key``."""
    marker = reference_marker(idem_key)
    if embed.url and marker in embed.url:
        return True
    return bool(embed.footer.text) and _legacy_marker(idem_key) in (embed.footer.text or "")


def card_to_embed(card: Card, *, link: str = "") -> discord.Embed:
    """``link`` replaces the card's own URL (the marked link of a channel post)."""
    url = link or (card.url if _is_web_link(card.url) else "")
    description = card.description
    if card.abridged and _is_web_link(card.url):
        target = card.url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
        more = f" [Read more]({target})"
        # The title links to the same page, so the extra link is dropped before any limit.
        fits = card.total_length() + len(more) <= EMBED_TOTAL_LIMIT
        if len(target) <= READ_MORE_LINK_LIMIT and fits:
            description += more
    embed = discord.Embed(
        title=card.title,
        description=description or None,
        colour=discord.Colour(card.colour),
        url=url or None,
    )
    for name, value in card.fields:
        if value:
            embed.add_field(name=name, value=value, inline=name in ("When", "Where"))
    if card.footer:
        embed.set_footer(text=truncate(card.footer, 2048))
    return embed


def announcement_embed(
    action: Action,
    *,
    marker: str = "",
    full: bool = False,
    templates: CardTemplates | None = None,
    zone: str = "UTC",
) -> discord.Embed:
    """The card posted in the channel (``full``: the one ``/seminars show`` answers with).

    ``templates`` are the feed's title and lead line templates (``zone`` writes their times).
    """
    card = build_card(
        inert_action(action),
        format_when_discord,
        format_was_discord,
        full=full,
        templates=templates,
        zone=zone,
    )
    return card_to_embed(card, link=marked_link(action.occurrence, marker) if marker else "")


def compact_embed(
    action: Action, *, marker: str = "", templates: CardTemplates | None = None, zone: str = "UTC"
) -> discord.Embed:
    """A digest entry: title, speaker, time and place in under 600 characters."""
    card = build_card(
        inert_action(action),
        format_when_discord,
        format_was_discord,
        templates=templates,
        zone=zone,
    )
    fields = tuple(
        (n, truncate(v, 200)) for n, v in card.fields if n in ("Speaker", "When", "Where")
    )
    compact = replace(
        card,
        title=truncate(card.title, 200),
        description="",
        fields=fields,
        footer=card.footer,
        abridged=False,
    )
    return card_to_embed(compact, link=marked_link(action.occurrence, marker) if marker else "")


def digest_heading(count: int) -> str:
    """The text above a digest's compact cards."""
    return f"**{count} new seminars announced**"


def headline_text(action: Action) -> str:
    """The follow-up line for attendee-relevant changes (time, place, cancellation), or ""."""
    return headline(inert_action(action), format_when_discord)
