"""End to end: the Events-tab mirror of a feed, through the real bot and the fake Discord."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import discord
import pytest

from bench.feedgen import Talk, render_feed
from bot.config import Config
from bot.discord_ui.event_mirror import EventMirror
from tests.discord_ui.harness import NOW, Harness
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import CREATE_EVENTS, MANAGE_EVENTS
from tests.feedserver import FeedServer

TALK = Talk(
    post_id=7001,
    start=NOW + timedelta(days=2, hours=3),
    speaker="Grace Hopper",
    affiliation="Yale University",
    title="Compilers for everyone",
)


class MirrorHarness(Harness):
    """The standard harness with the operator's ``[discord] scheduled_events`` switch on."""

    operator_switch: bool = True

    def config(self) -> Config:
        base = super().config()
        return dataclasses.replace(
            base,
            discord=dataclasses.replace(base.discord, scheduled_events=self.operator_switch),
        )


@pytest.fixture
async def mh(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> AsyncIterator[MirrorHarness]:
    h = MirrorHarness(
        fake=fake_discord,
        feeds=feed_server,
        tmp_path=tmp_path,
        extra_config="scheduled_events = true",
    )
    fake_discord.now = h.clock.now  # "start in the past" is judged by the bot's clock
    try:
        yield h
    finally:
        await h.stop()


def mirror(h: Harness) -> EventMirror:
    """The loaded cog (extensions are imported afresh, so compare by name, not class)."""
    assert h.bot is not None
    cog = h.bot.get_cog("EventMirror")
    assert cog is not None and type(cog).__name__ == "EventMirror"
    return cast(EventMirror, cog)


def events(h: Harness, status: int | None = 1) -> list[dict[str, Any]]:
    found = h.fake.scheduled_events(h.fake.defaults.guild)
    return [e for e in found if status is None or e["status"] == status]


def iso(value: datetime) -> datetime:
    return value.astimezone(UTC)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def creates(h: Harness) -> int:
    return sum(1 for kind, _ in h.fake.event_log if kind == "create")


async def test_upcoming_talk_appears_as_an_external_event(mh: MirrorHarness) -> None:
    h = mh
    h.feeds.body = render_feed([TALK])
    await h.start()
    await h.poll()
    (event,) = events(h)
    assert event["name"] == "Compilers for everyone"
    assert event["entity_type"] == 3 and event["privacy_level"] == 2
    assert event["entity_metadata"]["location"] == "Hackerman Hall B-17"
    assert parse(event["scheduled_start_time"]) == iso(TALK.start)
    assert parse(event["scheduled_end_time"]) == iso(TALK.end)
    assert "Grace Hopper (Yale University)" in event["description"]
    assert len(event["description"]) <= 1000
    post = [r for r in h.fake.requests if r.method == "POST" and "scheduled-events" in r.path]
    assert post[0].body["entity_type"] == 3 and post[0].body["privacy_level"] == 2

    # Polling again changes nothing.
    await h.poll()
    assert creates(h) == 1
    assert [k for k, _ in h.fake.event_log] == ["create"]


async def test_talk_outside_the_window_is_not_mirrored_until_it_enters(mh: MirrorHarness) -> None:
    h = mh
    later = replace(TALK, post_id=7002, start=NOW + timedelta(days=10))
    h.feeds.body = render_feed([later])
    await h.start()
    await h.poll()
    assert events(h) == []
    h.clock.advance(days=4)
    await h.poll()
    (event,) = events(h)
    assert parse(event["scheduled_start_time"]) == iso(later.start)


async def test_edit_edits_the_event_and_never_duplicates(mh: MirrorHarness) -> None:
    h = mh
    h.feeds.body = render_feed([TALK])
    await h.start()
    await h.poll()
    (before,) = events(h)
    h.feeds.body = render_feed([replace(TALK, title="Compilers for all", room="Malone 228")])
    await h.poll()
    (after,) = events(h)
    assert after["id"] == before["id"]
    assert after["name"] == "Compilers for all"
    assert after["entity_metadata"]["location"] == "Malone 228"
    assert creates(h) == 1


async def test_reschedule_with_a_new_uid_moves_the_same_event(mh: MirrorHarness) -> None:
    h = mh
    h.feeds.body = render_feed([TALK])
    await h.start()
    await h.poll()
    (before,) = events(h)
    moved = TALK.moved(TALK.start + timedelta(days=1, hours=2))
    assert moved.uid != TALK.uid  # The Events Calendar puts the start in the UID
    h.feeds.body = render_feed([moved])
    outcome = await h.poll()
    assert [a.kind.value for a in outcome.actions] == ["reschedule"]
    (after,) = events(h)
    assert after["id"] == before["id"]
    assert parse(after["scheduled_start_time"]) == iso(moved.start)
    assert parse(after["scheduled_end_time"]) == iso(moved.end)
    assert creates(h) == 1


async def test_cancelled_talk_cancels_its_event(mh: MirrorHarness) -> None:
    h = mh
    h.feeds.body = render_feed([TALK])
    await h.start()
    await h.poll()
    (event,) = events(h)
    h.feeds.body = render_feed([replace(TALK, status="CANCELLED")])
    outcome = await h.poll()
    assert [a.kind.value for a in outcome.actions] == ["cancel"]
    assert events(h) == []
    (cancelled,) = events(h, status=4)
    assert cancelled["id"] == event["id"]
    await h.poll()
    assert creates(h) == 1


async def test_restart_creates_no_duplicates(mh: MirrorHarness) -> None:
    h = mh
    talks = [TALK, replace(TALK, post_id=7003, start=TALK.start + timedelta(days=1))]
    h.feeds.body = render_feed(talks)
    await h.start()
    await h.poll()
    assert len(events(h)) == 2
    await h.restart()
    await h.poll()
    assert len(events(h)) == 2 and creates(h) == 2


async def test_crash_after_create_adopts_the_event_by_its_marker(mh: MirrorHarness) -> None:
    h = mh
    h.feeds.body = render_feed([TALK])
    await h.start()
    await h.poll()
    assert h.bot is not None
    # The store lost the record (a crash between Discord's answer and the commit).
    await h.bot.run_db(lambda db: db.conn.execute("DELETE FROM mirror_events"))
    await h.restart()
    await h.poll()
    assert len(events(h)) == 1 and creates(h) == 1


async def test_at_most_100_events_soonest_first(mh: MirrorHarness) -> None:
    h = mh
    talks = [
        replace(TALK, post_id=8000 + i, start=NOW + timedelta(hours=3 + i)) for i in range(104)
    ]
    foreign_start = NOW + timedelta(days=1)
    await h.start()
    # Someone else's event already takes one of the guild's 100 slots.
    assert h.bot is not None
    guild = h.bot.get_guild(h.fake.defaults.guild.id)
    assert guild is not None
    await guild.create_scheduled_event(
        name="Pizza night",
        start_time=foreign_start,
        end_time=foreign_start + timedelta(hours=1),
        entity_type=discord.EntityType.external,
        privacy_level=discord.PrivacyLevel.guild_only,
        location="Lounge",
    )
    h.feeds.body = render_feed(talks)
    await h.poll()
    ours = [e for e in events(h) if e["name"] != "Pizza night"]
    assert len(ours) == 99
    starts = sorted(parse(e["scheduled_start_time"]) for e in ours)
    assert starts == [iso(t.start) for t in talks[:99]]
    # As the first talks pass, the later ones get the freed slots (and nothing is refused).
    h.clock.advance(hours=3)
    await h.poll()
    assert len(events(h)) == 100
    refused = [r for r in h.fake.requests if "scheduled-events" in r.path and r.status >= 400]
    assert refused == []


async def test_forbidden_switches_the_mirror_off_and_tells_admins_once(
    mh: MirrorHarness,
) -> None:
    h = mh
    h.feeds.body = render_feed([TALK])
    await h.start()
    h.fake.inject_fault("POST", "/guilds/*/scheduled-events", 403, code=50013, times=5)
    await h.poll()
    await h.fake.wait_for(lambda: len(h.fake.dms(h.fake.defaults.owner)) == 1)
    (notice,) = h.fake.dms(h.fake.defaults.owner)
    assert "Manage Events" in notice.message["content"]
    assert events(h) == []
    await h.poll()
    await h.restart()  # the config file turns it back on; the admin is not told again
    await h.poll()
    await h.poll()
    assert len(h.fake.dms(h.fake.defaults.owner)) == 1
    posts = [r for r in h.fake.requests if r.method == "POST" and "scheduled-events" in r.path]
    assert len(posts) == 2  # one refused attempt per start, never a retry loop


async def test_operator_switch_off_means_no_events(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> None:
    h = MirrorHarness(
        fake=fake_discord,
        feeds=feed_server,
        tmp_path=tmp_path,
        extra_config="scheduled_events = true",
    )
    h.operator_switch = False
    try:
        h.feeds.body = render_feed([TALK])
        await h.start()
        await h.poll()
        assert fake_discord.scheduled_events(fake_discord.defaults.guild) == []
        assert await mirror(h).sync_feed(await h.feed_id()) is None
    finally:
        await h.stop()


async def command(h: Harness, options: dict[str, Any]) -> str:
    iid = h.fake.inject_command("feeds settings", options, user=h.fake.defaults.admin)
    record = await h.fake.wait_for_interaction_response(iid, timeout=10)
    assert record.rejected == []
    return str(record.response_data["content"])


async def test_feeds_settings_turns_the_mirror_on_and_off(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> None:
    h = MirrorHarness(fake=fake_discord, feeds=feed_server, tmp_path=tmp_path)
    fake_discord.now = h.clock.now
    try:
        h.feeds.body = render_feed([TALK])
        await h.start()
        await h.poll()
        assert events(h) == []
        text = await command(h, {"feed": "cs-seminar", "scheduled_events": True})
        assert "Events tab: on" in text
        await h.fake.wait_for(lambda: len(events(h)) == 1)  # synced at once, not at next poll
        text = await command(h, {"feed": "cs-seminar", "scheduled_events": False})
        assert "Events tab: off" in text
        await h.poll()
        assert h.fake.scheduled_events(h.fake.defaults.guild) == []  # removed, not left behind
    finally:
        await h.stop()


async def test_feeds_settings_refuses_the_mirror_when_the_operator_did_not_allow_it(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> None:
    h = MirrorHarness(fake=fake_discord, feeds=feed_server, tmp_path=tmp_path)
    h.operator_switch = False
    try:
        await h.start()
        text = await command(h, {"feed": "cs-seminar", "scheduled_events": True})
        assert "scheduled_events = true" in text and "[discord]" in text
        assert h.bot is not None
        row = await h.bot.run_db(
            lambda db: db.conn.execute("SELECT settings_json FROM feeds").fetchone()
        )
        assert '"scheduled_events": false' in row[0]
    finally:
        await h.stop()


async def test_without_manage_events_the_mirror_is_switched_off_once(mh: MirrorHarness) -> None:
    h = mh
    h.fake.defaults.bot_role.permissions &= ~(CREATE_EVENTS | MANAGE_EVENTS)
    h.feeds.body = render_feed([TALK])
    await h.start()
    await h.poll()
    await h.fake.wait_for(lambda: len(h.fake.dms(h.fake.defaults.owner)) == 1)
    await h.poll()
    assert events(h) == [] and len(h.fake.dms(h.fake.defaults.owner)) == 1
    assert not [r for r in h.fake.requests if "scheduled-events" in r.path]  # checked locally
    text = await command(h, {"feed": "cs-seminar", "scheduled_events": True})
    assert "Manage Events" in text
