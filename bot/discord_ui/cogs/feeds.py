"""``/feeds``: admins add, tune, diagnose and remove feeds without touching the server.

Every command is refused to non-admins at run time (``AdminGroup``), validates all input
before writing anything, and answers ephemerally. ``/feeds add`` defers first: it fetches.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import FeedSettings
from bot.core.durations import format_duration, parse_duration
from bot.core.render import truncate
from bot.core.seminar.feed_pattern import FeedPatternError, compile_pattern
from bot.core.templates import (
    LEAD_LIMIT,
    SAMPLE_VALUES,
    TITLE_LIMIT,
    TemplateError,
    fit,
    parse_template,
    render,
)
from bot.core.weekly_digest import parse_spec
from bot.discord_ui import message_fit
from bot.discord_ui.checks import AdminGroup, guild_id_of
from bot.discord_ui.embeds import inert, unix
from bot.discord_ui.talk_threads import missing_thread_permissions
from bot.discord_ui.tree import UserFacingError
from bot.errors import FeedError
from bot.service.feed_admin import FeedAdmin, FeedAdminRefusal
from bot.service.feed_probe import Probe
from bot.service.feeds import next_talk_preview, settings_from_row
from bot.service.records import FeedRow

if TYPE_CHECKING:
    from bot.discord_ui.client import SeminarBot

FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_WINDOW = timedelta(days=180)
MAX_OFFSET = timedelta(days=14)
MAX_OFFSETS = 5
MAX_KEYWORDS = 20
CHOICES = 25
CLEAR = "-"
POSTING = ("view_channel", "send_messages", "embed_links")

feeds = AdminGroup(
    name="feeds",
    description="Manage the calendar feeds this server follows (admins)",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)


def bot_of(interaction: discord.Interaction) -> SeminarBot:
    return cast("SeminarBot", interaction.client)


def admin_of(bot: SeminarBot) -> FeedAdmin:
    """The bot's feed administration service (opened in setup_hook)."""
    if bot.feed_admin is None:
        raise UserFacingError("The bot is still starting; try again in a minute.")
    return bot.feed_admin


def when(value: datetime | None) -> str:
    return f"<t:{unix(value)}:f> (<t:{unix(value)}:R>)" if value else "never"


def check_can_post(interaction: discord.Interaction, channel: Any) -> discord.TextChannel:
    """The bot must be able to see, post and embed in the channel (checked before saving)."""
    guild = interaction.guild
    target = guild.get_channel(channel.id) if guild is not None else None
    if not isinstance(target, discord.TextChannel):
        raise UserFacingError("Pick a text channel of this server for the announcements.")
    me = guild.me if guild is not None else None
    perms = target.permissions_for(me) if me is not None else None
    missing = [p for p in POSTING if perms is None or not getattr(perms, p)]
    if missing:
        names = ", ".join(p.replace("_", " ").title() for p in missing)
        raise UserFacingError(
            f"I cannot post in {target.mention}: I am missing **{names}** there. "
            "Give my role those permissions in that channel, or pick another channel."
        )
    return target


async def find_feed(interaction: discord.Interaction, name: str) -> FeedRow:
    bot = bot_of(interaction)
    row = await admin_of(bot).find(name, guild_id_of(interaction))
    if row is None:
        raise UserFacingError(
            f"This server has no feed called **{inert(truncate(name, 40))}**. "
            "See `/feeds list` for the names."
        )
    return row


async def feed_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    bot = bot_of(interaction)
    if interaction.guild_id is None:
        return []
    rows = await admin_of(bot).list(interaction.guild_id)
    typed = current.casefold()
    names = sorted(
        (r.name for r in rows if typed in r.name),
        key=lambda n: (not n.startswith(typed), n),
    )
    return [app_commands.Choice(name=n, value=n) for n in names[:CHOICES]]


def valid_name(given: str) -> str:
    name = given.strip().lower()
    if not FEED_NAME.match(name):
        raise UserFacingError(
            "A feed name is 1-32 lower-case letters, digits, '-' or '_' (e.g. `cs-seminar`)."
        )
    return name


def _probe_text(probe: Probe) -> str:
    name = inert(truncate(probe.parsed.calendar_name, 100)) or "(unnamed calendar)"
    lines = [
        f"Found **{name}** ({probe.how}).",
        f"Feed address: `{truncate(probe.url, 300)}`",
        f"Upcoming events: **{probe.upcoming}**",
    ]
    if probe.next_start is not None:
        lines.append(
            f"Next: **{inert(truncate(probe.next_title, 150))}**, {when(probe.next_start)}"
        )
    if probe.parsed.skipped:
        lines.append(f"Skipped {len(probe.parsed.skipped)} malformed event(s).")
    return "\n".join(lines)


@feeds.command(name="add", description="Follow a calendar: test it, then announce in a channel")
@app_commands.describe(
    url="The calendar link, an events page, or a Google Calendar link",
    channel="Where to announce its seminars",
    name="Short name (lower-case, e.g. cs-seminar); default from the calendar",
    announce="Announce the events already in the announce window now (default: start silently)",
)
async def add(
    interaction: discord.Interaction,
    url: app_commands.Range[str, 1, 2000],
    channel: discord.TextChannel,
    name: app_commands.Range[str, 1, 32] | None = None,
    announce: bool = False,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = bot_of(interaction)
    guild_id = guild_id_of(interaction)
    target = check_can_post(interaction, channel)
    chosen = valid_name(name) if name is not None else None
    try:
        added = await admin_of(bot).add(
            url=url,
            guild_id=guild_id,
            channel_id=target.id,
            name=chosen,
            announce=announce,
            fetcher=bot.fetcher,
            parser=bot.parser,
            default_timezone=bot.config.timezone,
            poll_now=lambda feed_id: bot.poll_feed(feed_id, force=True),
        )
    except FeedAdminRefusal as exc:
        raise UserFacingError(str(exc)) from exc
    except FeedError as exc:
        raise UserFacingError(f"I could not use that link ({exc.reason}): {exc}") from exc
    probe, feed_name = added.probe, added.row.name
    start = "announcing the events in its window now" if announce else "silently (no backlog)"
    await interaction.followup.send(
        message_fit.fit_content(
            f"{_probe_text(probe)}\n\nAdded as **{feed_name}**, posting in {target.mention}; "
            f"started {start}."
        ),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


@feeds.command(name="list", description="The feeds this server follows")
async def list_(interaction: discord.Interaction) -> None:
    bot = bot_of(interaction)
    rows = await admin_of(bot).list(guild_id_of(interaction))
    if not rows:
        await interaction.response.send_message(
            "This server follows no feeds yet. Add one with `/feeds add`.", ephemeral=True
        )
        return
    embed = discord.Embed(title="Feeds", colour=0x2B6CB0)
    for row in rows[:25]:
        channel = f"<#{row.channel_id}>" if row.channel_id else "no channel"
        state = row.status + (f" ({row.disabled_reason})" if row.disabled_reason else "")
        embed.add_field(
            name=row.name,
            value=f"{channel} · {state} · last good poll {when(row.last_ok_at)}",
            inline=False,
        )
    await interaction.response.send_message(
        embed=message_fit.fit_embed(embed, what="/feeds list"), ephemeral=True
    )


@feeds.command(name="remove", description="Stop following a feed and forget its events")
@app_commands.describe(feed="The feed to remove")
@app_commands.autocomplete(feed=feed_choices)
async def remove(interaction: discord.Interaction, feed: str) -> None:
    bot = bot_of(interaction)
    row = await find_feed(interaction, feed)
    try:
        await admin_of(bot).remove(row)
    except FeedAdminRefusal as exc:
        raise UserFacingError(str(exc)) from exc
    await interaction.response.send_message(
        f"Removed **{row.name}**; its past announcements stay in the channel.", ephemeral=True
    )


@feeds.command(name="refresh", description="Poll a feed now")
@app_commands.describe(feed="The feed to poll")
@app_commands.autocomplete(feed=feed_choices)
async def refresh(interaction: discord.Interaction, feed: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = bot_of(interaction)
    row = await find_feed(interaction, feed)
    if row.status == "disabled":
        raise UserFacingError(
            f"**{row.name}** is disabled ({row.disabled_reason}); re-enable it with "
            "`/feeds settings enabled:True`."
        )
    outcome = await bot.poll_feed(row.id, force=True)
    if outcome is None:
        text = "The bot is shutting down; nothing was polled."
    elif outcome.status == "failed" and outcome.error is not None:
        text = f"Polling **{row.name}** failed ({outcome.error.reason}): {outcome.error}"
    elif outcome.status == "deferred" and outcome.error is not None:
        text = f"**{row.name}** was not polled this time: {outcome.error}"
    elif outcome.status == "not_modified":
        text = f"**{row.name}** has not changed since the last poll."
    elif outcome.status == "suspect":
        text = f"**{row.name}** looks broken ({outcome.suspect_reason}); changes are on hold."
    else:
        text = f"Polled **{row.name}**: {len(outcome.actions)} change(s) to post."
        if outcome.deferred:
            text += (
                f" {outcome.deferred} more announcement(s) wait for the next polls "
                "(a few per poll, so the channel is not flooded)."
            )
    await interaction.followup.send(message_fit.fit_content(text), ephemeral=True)


def _keywords(raw: str) -> list[str]:
    if raw.strip() == CLEAR:
        return []
    words = [w.strip() for w in raw.split(",") if w.strip()]
    if len(words) > MAX_KEYWORDS or any(len(w) > 100 for w in words):
        raise UserFacingError(f"Give at most {MAX_KEYWORDS} keywords of up to 100 characters.")
    return words


def _duration(raw: str, what: str, *, maximum: timedelta) -> timedelta:
    try:
        value = parse_duration(raw.strip())
    except ValueError as exc:
        raise UserFacingError(f"`{what}`: {exc}") from exc
    if not timedelta(minutes=1) <= value <= maximum:
        raise UserFacingError(f"`{what}` must be between 1m and {format_duration(maximum)}.")
    return value


def _offsets(raw: str) -> tuple[timedelta, ...]:
    if raw.strip() == CLEAR:
        return ()
    parts = [p for p in re.split(r"[,\s]+", raw) if p]
    if len(parts) > MAX_OFFSETS:
        raise UserFacingError(f"Give at most {MAX_OFFSETS} reminder times, like `1d, 15m`.")
    offsets = {_duration(p, "reminders", maximum=MAX_OFFSET) for p in parts}
    return tuple(sorted(offsets, reverse=True))


def _timezone(raw: str) -> str:
    if raw.strip() == CLEAR:
        return ""
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserFacingError(
            f"Unknown time zone `{truncate(raw, 40)}`; use a name like `America/New_York`."
        ) from exc
    return raw.strip()


@feeds.command(name="settings", description="Change how a feed is announced")
@app_commands.describe(
    feed="The feed to change",
    channel="Announce in this channel instead",
    announce_window="How far ahead to announce, e.g. 7d",
    include="Only events with one of these words (comma-separated; '-' clears)",
    exclude="Skip events with any of these words (comma-separated; '-' clears)",
    mention_role="Role to mention in announcements",
    no_mention="Stop mentioning a role",
    reminders="Reminder times before each event, e.g. '1d, 15m' ('-' for none)",
    timezone="Time zone for floating times, e.g. America/New_York ('-' clears)",
    paused="Pause (True) or resume (False) polling and posting",
    enabled="Re-enable a feed that was disabled after failing",
    scheduled_events="Show upcoming talks in the server's Events tab (needs Manage Events)",
    digest="Weekly 'This week's seminars' post, e.g. 'mon 09:00' in the feed's zone ('-' stops)",
    talk_threads="Start a discussion thread from each talk's announcement",
    summary_pattern="Regex, groups speaker/affiliation/title/series, for SUMMARY ('-' clears)",
    description_pattern="Same, for DESCRIPTION ('-' clears)",
    title_template="Card title, e.g. '{series}: {speaker} — {title}' ('-' for the default)",
    lead_template="A line above the abstract, e.g. '{speaker} ({affiliation})' ('-' for none)",
)
@app_commands.autocomplete(feed=feed_choices)
async def settings(  # noqa: C901 - one optional parameter per setting, each parsed in a flat list
    interaction: discord.Interaction,
    feed: str,
    channel: discord.TextChannel | None = None,
    announce_window: app_commands.Range[str, 1, 20] | None = None,
    include: app_commands.Range[str, 1, 1000] | None = None,
    exclude: app_commands.Range[str, 1, 1000] | None = None,
    mention_role: discord.Role | None = None,
    no_mention: bool | None = None,
    reminders: app_commands.Range[str, 1, 100] | None = None,
    timezone: app_commands.Range[str, 1, 64] | None = None,
    paused: bool | None = None,
    enabled: bool | None = None,
    scheduled_events: bool | None = None,
    digest: app_commands.Range[str, 1, 20] | None = None,
    talk_threads: bool | None = None,
    summary_pattern: app_commands.Range[str, 1, 400] | None = None,
    description_pattern: app_commands.Range[str, 1, 400] | None = None,
    title_template: app_commands.Range[str, 1, 300] | None = None,
    lead_template: app_commands.Range[str, 1, 300] | None = None,
) -> None:
    bot = bot_of(interaction)
    row = await find_feed(interaction, feed)
    changes: dict[str, Any] = {}
    notes: list[str] = []
    target = check_can_post(interaction, channel) if channel is not None else None
    if announce_window is not None:
        changes["announce_window"] = _duration(
            announce_window, "announce_window", maximum=MAX_WINDOW
        )
    if include is not None:
        changes["include"] = tuple(_keywords(include))
    if exclude is not None:
        changes["exclude"] = tuple(_keywords(exclude))
    if mention_role is not None and no_mention:
        raise UserFacingError("Choose either `mention_role` or `no_mention`, not both.")
    if mention_role is not None:
        if mention_role.is_default():
            raise UserFacingError("The bot never mentions @everyone; pick a specific role.")
        changes["mention_role_id"] = mention_role.id
    if no_mention:
        changes["mention_role_id"] = None
    if reminders is not None:
        changes["reminder_offsets"] = _offsets(reminders)
    if timezone is not None:
        changes["timezone"] = _timezone(timezone)
    if paused is not None:
        changes["paused"] = paused
    if enabled is False:
        raise UserFacingError("To stop a feed use `paused:True` (or `/feeds remove`).")
    if scheduled_events is not None:
        if scheduled_events:
            _check_can_mirror(interaction, bot)
        changes["scheduled_events"] = scheduled_events
    if digest is not None:
        changes["digest"] = _digest(digest)
    if talk_threads is not None:
        if talk_threads:
            _check_can_thread(interaction, target or row.channel_id)
        changes["talk_threads"] = talk_threads
    if summary_pattern is not None:
        changes["seminar_summary_pattern"] = _seminar_pattern(summary_pattern, "summary_pattern")
    if description_pattern is not None:
        changes["seminar_description_pattern"] = _seminar_pattern(
            description_pattern, "description_pattern"
        )
    if title_template is not None:
        changes["title_template"] = _template(title_template, "title_template")
    if lead_template is not None:
        changes["lead_template"] = _template(lead_template, "lead_template")
    if not changes and target is None and enabled is None:
        raise UserFacingError("Nothing to change: give at least one setting.")

    updated = await admin_of(bot).change_settings(
        row,
        changes,
        channel_id=target.id if target is not None else None,
        paused=paused,
        enabled=enabled,
    )
    if row.status == "disabled" and updated.status == "active":
        notes.append("Re-enabled; it will be polled again shortly.")
    if title_template is not None or lead_template is not None:
        preview = await bot.run_db(next_talk_preview, updated, now=bot.clock.now())
        if preview is not None:
            title, lead = preview
            notes.append(f"On the next talk: **{title}**" + (f"\n{lead}" if lead else ""))
    if updated.settings.get("source") == "config":
        notes.append("(This feed comes from the configuration file, which wins at restart.)")
    await interaction.response.send_message(
        message_fit.fit_content(
            _settings_text(updated) + ("\n" + "\n".join(notes) if notes else "")
        ),
        ephemeral=True,
    )


def _check_can_mirror(interaction: discord.Interaction, bot: SeminarBot) -> None:
    """The operator must allow the mirror, and the bot needs Manage Events in this server."""
    if not bot.config.discord.scheduled_events:
        raise UserFacingError(
            "The Events tab mirror is turned off for this bot; its operator can allow it with "
            "`scheduled_events = true` in the `[discord]` section of the configuration."
        )
    me = interaction.guild.me if interaction.guild is not None else None
    perms = me.guild_permissions if me is not None else None
    if perms is None or not (perms.manage_events or perms.create_events):
        raise UserFacingError(
            "I need the **Manage Events** permission in this server to add talks to the Events "
            "tab. Give my role that permission, then try again."
        )


def _check_can_thread(interaction: discord.Interaction, channel: Any) -> None:
    """Threads start from the cards: the bot needs the thread permissions where it posts."""
    if isinstance(channel, int) and interaction.guild is not None:
        channel = interaction.guild.get_channel(channel)
    missing = missing_thread_permissions(channel)
    if missing:
        raise UserFacingError(
            f"To open a thread per talk in {channel.mention} I need {', '.join(missing)} "
            "there. Give my role those permissions, then try again."
        )


def _digest(raw: str) -> str:
    if raw.strip() == CLEAR:
        return ""
    try:
        return str(parse_spec(raw))
    except ValueError as exc:
        raise UserFacingError(
            f"`digest`: {exc}. Days are mon, tue, wed, thu, fri, sat, sun; '-' stops the digest."
        ) from exc


def _seminar_pattern(raw: str, option: str) -> str:
    if raw.strip() == CLEAR:
        return ""
    try:
        compile_pattern(raw, f"`{option}`")
    except FeedPatternError as exc:
        raise UserFacingError(f"{exc}.") from exc
    return raw


def _template(raw: str, option: str) -> str:
    if raw.strip() == CLEAR:
        return ""
    try:
        parse_template(raw.strip())
    except TemplateError as exc:
        raise UserFacingError(f"`{option}`: {exc}.") from exc
    return raw.strip()


def _template_lines(s: FeedSettings) -> list[str]:
    """Each template set, with what it gives for a made-up talk."""
    lines = []
    for label, source, limit in (
        ("Title template", s.title_template, TITLE_LIMIT),
        ("Lead line template", s.lead_template, LEAD_LIMIT),
    ):
        if source:
            example = fit(render(parse_template(source), SAMPLE_VALUES), limit)
            lines.append(f"{label}: {inert(source)} (e.g. {example})")
    return lines


def _settings_text(row: FeedRow) -> str:
    s = settings_from_row(row)
    role = f"<@&{s.mention_role_id}>" if s.mention_role_id else "none"
    return "\n".join(
        [
            f"**{row.name}** is {row.status}, posting in <#{row.channel_id}>.",
            f"Announce window: {format_duration(s.announce_window)}",
            f"Include: {', '.join(s.include) or 'everything'}",
            f"Exclude: {', '.join(s.exclude) or 'nothing'}",
            f"Mention: {role}",
            f"Reminders: {', '.join(format_duration(o) for o in s.reminder_offsets) or 'none'}",
            f"Time zone: {s.timezone or 'from the calendar'}",
            f"Events tab: {'on' if s.scheduled_events else 'off'}",
            f"Weekly digest: {s.digest or 'off'}",
            f"Thread per talk: {'on' if s.talk_threads else 'off'}",
            *(
                [f"Seminar pattern (SUMMARY): `{s.seminar_summary_pattern}`"]
                if s.seminar_summary_pattern
                else []
            ),
            *(
                [f"Seminar pattern (DESCRIPTION): `{s.seminar_description_pattern}`"]
                if s.seminar_description_pattern
                else []
            ),
            *_template_lines(s),
        ]
    )


@feeds.command(name="status", description="Health of one feed, or of all of them")
@app_commands.describe(feed="Only this feed")
@app_commands.autocomplete(feed=feed_choices)
async def status(interaction: discord.Interaction, feed: str | None = None) -> None:
    bot = bot_of(interaction)
    if feed is not None:
        rows = [await find_feed(interaction, feed)]
    else:
        rows = await admin_of(bot).list(guild_id_of(interaction))
    if not rows:
        raise UserFacingError("This server follows no feeds yet. Add one with `/feeds add`.")
    embeds = [await _status_embed(bot, row) for row in rows[:10]]
    await interaction.response.send_message(
        embeds=message_fit.fit_embeds(embeds, what="/feeds status"), ephemeral=True
    )


async def _status_embed(bot: SeminarBot, row: FeedRow) -> discord.Embed:
    admin = admin_of(bot)
    counts = await admin.counts(row.id)
    stored, upcoming = counts.stored, counts.upcoming
    next_run = admin.next_run(row.id)
    colour = {"active": 0x2F855A, "suspect": 0xDD6B20, "paused": 0x718096}.get(row.status, 0x9B2C2C)
    embed = discord.Embed(title=f"{row.name}: {row.status}", colour=colour)
    if row.disabled_reason:
        embed.description = f"Disabled because: {row.disabled_reason}"
    embed.add_field(name="Last successful poll", value=when(row.last_ok_at), inline=True)
    embed.add_field(name="Last poll", value=when(row.last_poll_at), inline=True)
    embed.add_field(
        name="Next poll",
        value="paused"
        if row.status in ("paused", "disabled")
        else when(next_run or row.next_poll_at),
        inline=True,
    )
    embed.add_field(name="Consecutive failures", value=str(row.fail_count), inline=True)
    embed.add_field(name="Events stored", value=f"{stored} ({upcoming} upcoming)", inline=True)
    embed.add_field(
        name="Skipped (bad events, occurrences over budget)",
        value=str(row.skipped_count),
        inline=True,
    )
    if row.deferred_announcements:
        embed.add_field(
            name="Announcements waiting",
            value=f"{row.deferred_announcements} held back by the per-poll limit; "
            "the next polls announce them, soonest first",
            inline=False,
        )
    if row.last_error:
        embed.add_field(
            name="Last error",
            value=truncate(f"{row.last_error_reason}: {row.last_error}", 1024),
            inline=False,
        )
    channel = f"<#{row.channel_id}>" if row.channel_id else "none"
    embed.set_footer(
        text=f"source: {row.settings.get('source', 'discord')} · channel id {row.channel_id}"
    )
    embed.add_field(name="Channel", value=channel, inline=True)
    return embed


class FeedsCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.tree.add_command(feeds, override=True)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(feeds.name)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(FeedsCog(bot))
