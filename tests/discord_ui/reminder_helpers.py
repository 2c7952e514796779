"""Shared steps for the reminder end-to-end tests (announce, click, move the clock, tick)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench.feedgen import Talk, render_feed
from bot.store import reminders as reminder_store
from bot.store.reminders import ReminderRow
from tests.discord_ui.harness import Harness
from tests.fakediscord.records import SentMessage


async def announce(h: Harness, *talks: Talk) -> list[SentMessage]:
    h.feeds.body = render_feed(list(talks))
    await h.poll()
    await h.fake.wait_for_messages(h.fake.defaults.seminars, 1)
    await h.deliver()
    return [m for m in h.fake.messages(h.fake.defaults.seminars) if m.message.get("embeds")]


def remind_button(message: SentMessage) -> str:
    for row in message.message.get("components", []):
        for child in row.get("components", []):
            if str(child.get("custom_id", "")).startswith("remind:"):
                return str(child["custom_id"])
    raise AssertionError("announcement has no Remind me button")


async def click_remind(h: Harness, message: SentMessage, user: Any) -> str:
    iid = h.fake.click_button(message.id, remind_button(message), user=user)
    record = await h.fake.wait_for_interaction_response(iid, timeout=5)
    assert record.response_data is not None
    assert record.response_data["flags"] & 64, "reply must be ephemeral"
    return str(record.response_data.get("content", ""))


async def command(h: Harness, name: str, options: dict[str, Any] | None, user: Any) -> str:
    iid = h.fake.inject_command(name, options or {}, user=user)
    record = await h.fake.wait_for_interaction_response(iid, timeout=5)
    assert record.response_data is not None
    assert record.response_data["flags"] & 64, "reply must be ephemeral"
    return str(record.response_data.get("content", ""))


async def tick_at(h: Harness, when: datetime) -> int:
    """Move the injected clock and let the reminder worker run a pass (as a wake-up would)."""
    assert h.bot is not None and h.bot.reminders is not None
    h.clock.set(when)
    return int(await h.bot.reminders.run_due())


async def reminders(h: Harness) -> list[ReminderRow]:
    assert h.bot is not None
    rows: list[ReminderRow] = await h.bot.run_db(reminder_store.list_reminders)
    return rows


def reminder_texts(messages: list[SentMessage]) -> list[str]:
    return [
        str(m.message.get("content", ""))
        for m in messages
        if "Reminder" in str(m.message.get("content", ""))
    ]
