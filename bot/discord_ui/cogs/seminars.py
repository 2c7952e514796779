"""``/seminars``: members find, read and save upcoming talks.

Answers are ephemeral unless the member asks to share them. Every store call runs on the
bot's database thread; the queries are indexed, so even autocomplete over 10,000 stored
events answers well inside Discord's three seconds.
"""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.ics_export import event_ics, google_calendar_link, ics_filename
from bot.core.render import truncate
from bot.discord_ui import message_fit
from bot.discord_ui.checks import guild_id_of, is_admin
from bot.discord_ui.going_views import WhoIsGoingButton
from bot.discord_ui.lookup_embeds import choice_label, event_embed, list_pages
from bot.discord_ui.tree import UserFacingError
from bot.discord_ui.views import send_pages
from bot.service import attendance, lookups
from bot.service.records import EventHit

if TYPE_CHECKING:
    from bot.discord_ui.client import SeminarBot

MAX_DAYS = 90
LIST_LIMIT = 200
SEARCH_LIMIT = 25
CHOICES = 25

seminars = app_commands.Group(
    name="seminars", description="Find upcoming seminars", guild_only=True
)
SHARE = "Post the answer in the channel for everyone (default: only you see it)"


def bot_of(interaction: discord.Interaction) -> SeminarBot:
    return cast("SeminarBot", interaction.client)


def _zone(bot: SeminarBot) -> ZoneInfo:
    try:
        return ZoneInfo(bot.config.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


async def _upcoming(
    bot: SeminarBot, guild_id: int, *, feed: str | None, until: datetime | None, limit: int
) -> list[EventHit]:
    try:
        return await bot.run_db(
            lookups.upcoming, guild_id, now=bot.clock.now(), until=until, feed=feed, limit=limit
        )
    except lookups.UnknownFeed as exc:
        assert feed is not None
        raise UserFacingError(f"There is no feed called **{truncate(feed, 40)}** here.") from exc


async def feed_names(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Feed names of this server that start with (or contain) what was typed."""
    bot = bot_of(interaction)
    if interaction.guild_id is None:
        return []
    known = await bot.run_db(lookups.feed_names, interaction.guild_id)
    typed = current.casefold()
    names = [n for n in known if typed in n.casefold()]
    names.sort(key=lambda n: (not n.casefold().startswith(typed), n))
    return [app_commands.Choice(name=n, value=n) for n in names[:CHOICES]]


async def _list(
    interaction: discord.Interaction,
    *,
    title: str,
    until: datetime,
    feed: str | None,
    share: bool,
    empty: str,
) -> None:
    bot = bot_of(interaction)
    guild_id = guild_id_of(interaction)
    hits = await _upcoming(bot, guild_id, feed=feed, until=until, limit=LIST_LIMIT)
    footer = f"feed {feed}" if feed else ""
    await send_pages(
        interaction, list_pages(hits, title=title, empty=empty, footer=footer), ephemeral=not share
    )


@seminars.command(name="upcoming", description="Seminars in the next few days")
@app_commands.describe(
    days=f"How many days ahead (1-{MAX_DAYS}, default 14)", feed="Only this feed", share=SHARE
)
@app_commands.autocomplete(feed=feed_names)
async def upcoming(
    interaction: discord.Interaction,
    days: app_commands.Range[int, 1, MAX_DAYS] = 14,
    feed: str | None = None,
    share: bool = False,
) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise UserFacingError(f"`days` must be between 1 and {MAX_DAYS}, not {days}.")
    now = bot_of(interaction).clock.now()
    await _list(
        interaction,
        title=f"Seminars in the next {days} day{'s' if days != 1 else ''}",
        until=now + timedelta(days=days),
        feed=feed,
        share=share,
        empty=f"No seminars in the next {days} days.",
    )


@seminars.command(name="today", description="Seminars still to come today")
@app_commands.describe(share=SHARE)
async def today(interaction: discord.Interaction, share: bool = False) -> None:
    bot = bot_of(interaction)
    zone = _zone(bot)
    local = bot.clock.now().astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    await _list(
        interaction,
        title="Seminars today",
        until=midnight,
        feed=None,
        share=share,
        empty="No more seminars today.",
    )


@seminars.command(name="week", description="Seminars in the next seven days")
@app_commands.describe(share=SHARE)
async def week(interaction: discord.Interaction, share: bool = False) -> None:
    now = bot_of(interaction).clock.now()
    await _list(
        interaction,
        title="Seminars this week",
        until=now + timedelta(days=7),
        feed=None,
        share=share,
        empty="No seminars in the next seven days.",
    )


async def _send_event(interaction: discord.Interaction, hit: EventHit, *, share: bool) -> None:
    """The full card, an "Add to Google Calendar" button and a one-event .ics file; how many
    are going, and for admins a "Who's going" button."""
    bot = bot_of(interaction)
    occ = hit.occurrence
    templates, zone = await bot.run_db(lookups.feed_card_style, hit.feed_id)
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.link,
            label="Add to Google Calendar",
            url=google_calendar_link(occ),
        )
    )
    embed = event_embed(hit, templates=templates, zone=zone)
    announcement_id, going = await bot.run_db(attendance.going_of_event, hit.rowid)
    if going:
        embed.add_field(name="Going", value=f"🙋 {going}", inline=False)
        if is_admin(interaction, bot.config.discord.admin_role_id):
            view.add_item(WhoIsGoingButton(announcement_id))
    ics = discord.File(io.BytesIO(event_ics(occ, now=bot.clock.now())), filename=ics_filename(occ))
    await interaction.response.send_message(
        embed=message_fit.fit_embed(embed, what="/seminars event"),
        view=message_fit.fit_view(view, what="/seminars event") or discord.utils.MISSING,
        file=ics,
        ephemeral=not share,
        allowed_mentions=discord.AllowedMentions.none(),
    )


@seminars.command(name="next", description="The next seminar, in full")
@app_commands.describe(feed="Only this feed", share=SHARE)
@app_commands.autocomplete(feed=feed_names)
async def next_seminar(
    interaction: discord.Interaction, feed: str | None = None, share: bool = False
) -> None:
    bot = bot_of(interaction)
    guild_id = guild_id_of(interaction)
    hits = await _upcoming(bot, guild_id, feed=feed, until=None, limit=1)
    if not hits:
        raise UserFacingError("No upcoming seminars are known right now.")
    await _send_event(interaction, hits[0], share=share)


@seminars.command(name="search", description="Find seminars by speaker, title, topic or series")
@app_commands.describe(query="A name, title or topic words (typos are fine)", share=SHARE)
async def search(
    interaction: discord.Interaction,
    query: app_commands.Range[str, 1, 100],
    share: bool = False,
) -> None:
    bot = bot_of(interaction)
    guild_id = guild_id_of(interaction)
    if not query.strip():
        raise UserFacingError("Type a name, title or topic to search for.")
    result = await bot.run_db(
        lookups.search, guild_id, query, now=bot.clock.now(), limit=SEARCH_LIMIT
    )
    shown = truncate(" ".join(query.split()), 60)
    title = f"Seminars matching “{shown}”"
    footer = f"showing results for “{result.corrected}”" if result.corrected else ""
    pages = list_pages(
        result.hits,
        title=title,
        empty="No upcoming seminar matches that. Try a speaker's surname or one topic word.",
        footer=footer,
    )
    await send_pages(interaction, pages, ephemeral=not share)


async def event_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    bot = bot_of(interaction)
    if interaction.guild_id is None:
        return []
    hits = await bot.run_db(
        lookups.suggest,
        interaction.guild_id,
        current[:100],
        now=bot.clock.now(),
        limit=CHOICES,
    )
    zone = bot.config.timezone or "UTC"
    return [app_commands.Choice(name=choice_label(h, zone), value=str(h.rowid)) for h in hits]


@seminars.command(name="show", description="One seminar in full, with calendar links")
@app_commands.describe(event="Start typing a speaker or title and pick from the list", share=SHARE)
@app_commands.autocomplete(event=event_choices)
async def show(
    interaction: discord.Interaction,
    event: app_commands.Range[str, 1, 100],
    share: bool = False,
) -> None:
    bot = bot_of(interaction)
    guild_id = guild_id_of(interaction)
    hit = await bot.run_db(lookups.find_event, guild_id, event, now=bot.clock.now())
    if hit is None:
        raise UserFacingError(
            f"I know no upcoming seminar matching “{truncate(event, 60)}”. "
            "Pick one from the suggestions while typing."
        )
    await _send_event(interaction, hit, share=share)


class SeminarsCog(commands.Cog):
    """Owns the ``/seminars`` group so unloading the extension removes it again."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.tree.add_command(seminars, override=True)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(seminars.name)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(SeminarsCog(bot))
