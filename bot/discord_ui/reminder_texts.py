"""What a reminder or a change notice says. Feed text is made inert; times are Discord
timestamps so each reader sees their own zone."""

from __future__ import annotations

from datetime import date, datetime

import discord

from bot.core.durations import format_duration
from bot.core.fingerprint import format_when
from bot.core.models import Occurrence, instant_from_json
from bot.discord_ui.embeds import format_was_discord, format_when_discord, inert, unix
from bot.store.reminders import ReminderRow

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
    marker = f"ref rm{row.id}"
    if row.kind == "moved":
        p = row.payload
        embed = discord.Embed(title=title, colour=CHANGE_COLOUR)
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
        embed.set_footer(text=f"Your reminders moved with it · {marker}")
        content = f"📅 A seminar you follow has changed: **{title}**"
    elif row.kind == "cancelled":
        embed = discord.Embed(
            title=title, description=f"Was: {format_was_discord(occ)}", colour=CHANGE_COLOUR
        )
        embed.set_footer(text=f"Its reminders are cancelled · {marker}")
        content = f"❌ A seminar you follow was cancelled: **{title}**"
    else:
        label = "(late) " if late else ""
        embed = discord.Embed(
            title=title, description=format_when_discord(occ), colour=REMINDER_COLOUR
        )
        if occ.place:
            embed.add_field(name="Where", value=_clip(inert(occ.place), 1000), inline=False)
        if jump_url:
            embed.add_field(name="Announcement", value=f"[Open]({jump_url})", inline=False)
        if isinstance(occ.url, str) and occ.url.startswith(("https://", "http://")):
            embed.url = occ.url
        footer = f"{format_duration(row.offset)} reminder"
        if late:
            footer += " (late: the bot was offline at the due time)"
        embed.set_footer(text=f"{footer} · {marker}")
        content = f"⏰ {label}Reminder: **{title}** {_starts(occ)}"
    return _clip(content, 1900), embed
