"""The fleet bench's world: servers in the fake Discord, the operator's config, seeded members.

Feed ``i`` lives in server ``i % servers`` (so each server has ``feeds / servers`` feeds, all
posting to the server's one channel). The first ``shared`` feeds, one per server, follow the
same calendar URL. Subscriptions are written into the bot's SQLite file before it starts,
through the store's own ``add_subscription`` (what ``/remind`` stores), so the bot starts
with them as if members had clicked for weeks; the one subscriber per feed whose reminder
comes due during the run is a real member of the fake server with the DM channel their click
would have opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import load_config
from bot.service.feeds import open_store, sync_config_feeds
from bot.service.subscriptions import member_seen, remember_dm_channel
from bot.store import reminders as reminder_store
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import (
    DEFAULT_EVERYONE,
    EMBED_LINKS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    snowflake,
)

REMINDER_OFFSET = timedelta(minutes=15)
#: Subscriber ids are synthetic; only those who get a reminder during the run exist in the fake.
_USER_BASE = 10**17


@dataclass
class FleetLayout:
    feeds: int
    servers: int
    shared: int
    subscriptions: int
    guild_ids: list[int] = field(default_factory=list)
    channel_ids: list[int] = field(default_factory=list)

    def guild_of(self, index: int) -> int:
        return index % self.servers

    def subscriber(self, index: int, slot: int) -> int:
        """A member id: distinct per (server, feed of that server, slot)."""
        per_feed = self.subscriptions // self.feeds
        return (
            _USER_BASE + self.guild_of(index) * 100_000 + (index // self.servers) * per_feed + slot
        )


def build_world(fake: FakeDiscord, layout: FleetLayout) -> None:
    """One server per guild slot: owner, the bot with a role that may post, one channel."""
    bot_perms = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY
    for number in range(layout.servers):
        guild_id = snowflake()
        owner = FakeUser(snowflake(), f"owner{number}")
        bot_role = FakeRole(snowflake(), "Seminar Bot", bot_perms, position=1, managed=True)
        channel = FakeChannel(snowflake(), "seminars", 0, guild_id)
        members = [FakeMember(owner), FakeMember(fake.bot_user, [bot_role.id])]
        for index in range(number, layout.feeds, layout.servers):
            # The feed's subscriber whose reminder falls inside the run.
            user = FakeUser(layout.subscriber(index, 0), f"member{index}")
            members.append(FakeMember(user))
        guild = FakeGuild(
            guild_id,
            f"University {number}",
            owner.id,
            roles=[FakeRole(guild_id, "@everyone", DEFAULT_EVERYONE), bot_role],
            channels=[channel],
            members=members,
        )
        fake.add_guild(guild)
        layout.guild_ids.append(guild_id)
        layout.channel_ids.append(channel.id)


def write_config(
    path: Path, fake: FakeDiscord, layout: FleetLayout, urls: list[str], period: timedelta
) -> Path:
    lines = [
        "[storage]",
        'path = "fleet.db"',
        "[defaults]",
        f'poll_interval = "{int(period.total_seconds())}s"',
        'reminder_offsets = ["15m"]',
        "[discord]",
        f'api_base_url = "{fake.api_base_url}"',
        f'gateway_url = "{fake.gateway_url}"',
        "[logging]",
        'level = "INFO"',
    ]
    for index, url in enumerate(urls):
        guild = layout.guild_of(index)
        lines += [
            "[[feeds]]",
            f'name = "feed-{index}"',
            f'url = "{url}"',
            f"guild_id = {layout.guild_ids[guild]}",
            f"channel_id = {layout.channel_ids[guild]}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def seed_database(config_path: Path, fake: FakeDiscord, layout: FleetLayout, now: datetime) -> int:
    """Feeds as the bot's start-up writes them, then the subscriptions; returns how many.

    Per feed: subscriber 0 wants the first talk (due during the run), by DM for even feeds
    and by a mention in the channel for odd ones; the others follow later speakers, whose
    reminders are planned but not due before the run ends.
    """
    config = load_config(config_path, require_routing=True)
    db = open_store(config)
    # Seeding only: the bot's own connection keeps synchronous=FULL.
    db.conn.execute("PRAGMA synchronous=OFF")
    try:
        rows = sync_config_feeds(db, config, now=now)
        per_feed = layout.subscriptions // layout.feeds
        count = 0
        for index, row in enumerate(rows):
            guild_id = layout.guild_ids[layout.guild_of(index)]
            for slot in range(per_feed):
                user_id = layout.subscriber(index, slot)
                first = slot == 0
                via = "dm" if not first or index % 2 == 0 else "channel"
                reminder_store.add_subscription(
                    db,
                    guild_id=guild_id,
                    user_id=user_id,
                    kind="filter",
                    offset=REMINDER_OFFSET,
                    via=via,
                    feed_id=row.id,
                    field="speaker",
                    pattern="Speaker 0" if first else f"Speaker {1 + slot % 29}",
                    now=now,
                )
                count += 1
                if first and via == "dm":
                    user = fake.user(user_id)
                    dm = FakeChannel(snowflake(), "", 1, recipient=user)
                    fake.dm_channels[user_id] = dm
                    member_seen(db, user_id, now=now)
                    remember_dm_channel(db, user_id, dm.id, now=now)
        return count
    finally:
        db.close()
