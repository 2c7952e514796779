"""What a reminder or a change notice says. Feed text is made inert; times are Discord
timestamps so each reader sees their own zone."""

from __future__ import annotations

from datetime import date, datetime

import discord

from bot.core.durations import format_duration
from bot.core.fingerprint import format_when
from bot.core.models import Occurrence, instant_from_json
from bot.core.render import online_url_of, speaker_names
from bot.discord_ui.embeds import format_was_discord, format_when_discord, inert, unix
from bot.service.records import ReminderRow

REMINDER_COLOUR = 0xF1C40F
CHANGE_COLOUR = 0xE67E22


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when_json(value: str) -> str:
    instant = instant_from_json(value) if value else None
    if isinstance(instant, datetime):
        return f"<t:{unix(instant)}:F>"
    if isinstance(instant, date):
        return f"{instant:%a} {instant.day} {instant:%b %Y} (all day)"
    return "unknown"


def _starts(occ: Occurrence) -> str:
    if isinstance(occ.start, datetime):
        return f"starts <t:{unix(occ.start)}:R>"
    return f"is on {format_when(occ)}"


def render_reminder(
    row: ReminderRow, occ: Occurrence, *, late: bool, jump_url: str = ""
) -> tuple[str, discord.Embed]:
    title = _clip(inert(occ.title), 200)
    if row.kind == "moved":
        p = row.payload
        # The title is in the text above the card; the card says only what changed.
        embed = discord.Embed(colour=CHANGE_COLOUR)
        if p.get("old_start") != p.get("new_start"):
            embed.add_field(
                name="When",
                value=f"~~{_when_json(p.get('old_start', ''))}~~ → "
                f"**{_when_json(p.get('new_start', ''))}**",
                inline=False,
            )
        if p.get("old_place") != p.get("new_place"):
            old = _clip(inert(p.get("old_place", "")) or "not given", 400)
            new = _clip(inert(p.get("new_place", "")) or "not given", 400)
            embed.add_field(name="Where", value=f"~~{old}~~ → **{new}**", inline=False)
        # No subscription: the person is told because they are going, not for a reminder.
        going_only = row.subscription_id is None
        embed.set_footer(
            text="You're still down as going" if going_only else "Your reminders moved with it"
        )
        content = f"📅 A seminar you follow has changed: **{title}**"
    elif row.kind == "cancelled":
        embed = discord.Embed(description=f"Was: {format_was_discord(occ)}", colour=CHANGE_COLOUR)
        going_only = row.subscription_id is None
        embed.set_footer(
            text="Your “I'm going” ends with it" if going_only else "Its reminders are cancelled"
        )
        content = f"❌ A seminar you follow was cancelled: **{title}**"
    else:
        embed, content = _reminder(row, occ, title, late=late, jump_url=jump_url)
    return _clip(content, 1900), embed


def _reminder(
    row: ReminderRow, occ: Occurrence, title: str, *, late: bool, jump_url: str
) -> tuple[discord.Embed, str]:
    """Each fact once: title and countdown in the text (what a notification shows), then
    speaker, the time itself and the place or join link in the card."""
    label = "(late) " if late else ""
    content = f"⏰ {label}Reminder: **{title}** {_starts(occ)}"
    lines: list[str] = []
    name, affiliation = speaker_names(occ), occ.seminar.affiliation
    if name:
        lines.append(
            f"🎤 **{_clip(inert(name), 300)}**"
            + (f" · {_clip(inert(affiliation), 300)}" if affiliation else "")
        )
    if isinstance(occ.start, datetime):  # an all-day date is already in the text
        lines.append(f"🕒 {format_when_discord(occ, relative=False)}")  # the countdown is above
    place, join = occ.place, online_url_of(occ)
    if join:  # the link gets its own line; the room, if any, keeps the rest of the place
        place = place.replace(join, " ").strip(" -–,;/|\n")
    if place:
        lines.append(f"📍 {_clip(inert(place), 500)}")
    if join:
        lines.append(f"🔗 [Join online]({_link(join)})")
    links = []
    if jump_url:
        links.append(f"[Announcement]({jump_url})")
    if isinstance(occ.url, str) and occ.url.startswith(("https://", "http://")):
        links.append(f"[Event page]({_link(occ.url)})")
    if links:
        lines.append(" · ".join(links))
    embed = discord.Embed(description="\n".join(lines) or None, colour=REMINDER_COLOUR)
    footer = f"{format_duration(row.offset)} reminder"
    if late:
        footer += " (late: the bot was offline at the due time)"
    embed.set_footer(text=footer)
    return embed, content


def _link(url: str) -> str:
    """A URL safe inside a masked link (a parenthesis would end it early)."""
    return _clip(url.replace("(", "%28").replace(")", "%29").replace(" ", "%20"), 1000)
