"""A protocol-level fake Discord for tests: aiohttp REST + gateway websocket on 127.0.0.1.

The REAL discord.py client logs in, receives READY/GUILD_CREATE, syncs commands, answers
injected interactions and posts messages; the fake validates every payload like Discord and
records everything in order. Full guide: ``tests/fakediscord/README.md``.

Quick use (the ``fake_discord`` fixture already points discord.py here)::

    async def test_x(fake_discord):
        fake = fake_discord
        d = fake.defaults                      # guild, owner, admin, member, seminars, readonly,
                                               # seminar_role, admin_role, bot_role, everyone_role
        ...start a client with fake.token...
        iid = fake.inject_command("feeds add", {"url": "https://x"}, user=d.admin)
        record = await fake.wait_for_interaction_response(iid, timeout=5)
        assert record.response_data["flags"] & 64
        assert fake.messages(d.seminars)[0].embeds[0]["title"] == "..."

API summary (``FakeDiscord``):

- lifecycle: ``await start()`` / ``await stop()`` / ``async with``; ``api_base_url``,
  ``gateway_url``, ``port``, ``token``, ``application_id``, ``bot_user``, ``defaults``.
- world: ``add_guild(FakeGuild)``, ``add_world(name, shard=(id, count))``, ``user(ref)``,
  ``channel(ref)``, ``guild(ref)``, ``set_dms_open(user, bool)``, ``bot_permissions(channel)``.
- shards: one gateway session per IDENTIFY ``shard`` (``gateway.sessions``,
  ``gateway.shard_ready(id)``); guild dispatches go to ``(guild_id >> 22) % count``.
- records: ``sent`` (every SentMessage), ``messages(channel)``, ``dms(user)``, ``message(id)``,
  ``edits``, ``deletes``, ``requests``, ``interactions``/``interaction(id)``,
  ``synced_commands(guild=None)``, ``sync_count``, ``scheduled_events(guild=None)``,
  ``event_log``, ``rate_limited_count``, ``identify_count``, ``resume_count``, ``gateway``.
- injection: ``inject_command(name, options, user=, channel=, guild=) -> id``,
  ``inject_autocomplete(name, options, focused, ...) -> id``, ``click_button(message_id,
  custom_id, user=) -> id``, ``select_option(message_id, custom_id, values, user=) -> id``.
- waiting (event-driven, bounded): ``await wait_for(predicate, timeout)``,
  ``await wait_for_interaction_response(id, timeout)``, ``await wait_for_messages(channel, n)``.
- faults: ``inject_fault(method, pattern, status, code=, message=, retry_after=, is_global=,
  after=, times=)``, ``enable_channel_rate_limit(limit, per)``, ``drop_gateway(code, shard_id=)``,
  ``invalidate_session(resumable=, shard_id=)``, ``request_reconnect(shard_id=)``, ``advance(seconds)``,
  ``interaction_deadline``, ``reject_past_events``, ``now``, ``strict_commands``,
  ``echo_messages``, ``gateway.allowed_privileged_intents``, ``gateway.heartbeat_interval_ms``.
"""

from __future__ import annotations

from .records import (
    Delete,
    Edit,
    Fault,
    InteractionRecord,
    InteractionRejected,
    RequestRecord,
    SentMessage,
    UploadedFile,
)
from .server import FakeDiscord
from .state import (
    DefaultWorld,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeThread,
    FakeUser,
    Overwrite,
    snowflake,
)

__all__ = [
    "DefaultWorld",
    "Delete",
    "Edit",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeThread",
    "FakeUser",
    "Fault",
    "InteractionRecord",
    "InteractionRejected",
    "Overwrite",
    "RequestRecord",
    "SentMessage",
    "UploadedFile",
    "snowflake",
]
