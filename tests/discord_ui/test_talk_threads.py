"""A thread per talk, end to end: loopback feed → real bot → fake Discord, with a fixed clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import discord

from bench.feedgen import Talk, render_feed
from bot.core.talk_threads import AUTO_ARCHIVE_MINUTES
from bot.service import talk_threads as threads_service
from bot.store import feeds as feed_store
from tests.discord_ui.harness import NOW, Harness
from tests.fakediscord import FakeDiscord, FakeThread
from tests.fakediscord.state import CREATE_PUBLIC_THREADS, SEND_MESSAGES_IN_THREADS

TALK = Talk(
    post_id=8001,
    start=NOW + timedelta(days=2),
    speaker="Ada Mahoney",
    title="Graph minors and the structure of everything",
)
OTHER = Talk(
    post_id=8002, start=NOW + timedelta(days=3), speaker="Alan Turing", title="Morphogenesis"
)
THREADS_ON = "talk_threads = true"


def allow_threads(fake: FakeDiscord) -> None:
    fake.defaults.bot_role.permissions |= CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS  # type: ignore[union-attr]


def thread_requests(fake: FakeDiscord) -> list[tuple[str, str, int | None]]:
    return [
        (r.method, r.path, r.status)
        for r in fake.requests
        if r.path.endswith("/threads") or (r.method == "PATCH" and "/messages" not in r.path)
    ]


async def announce(h: Harness, *talks: Talk) -> None:
    h.feeds.body = render_feed(list(talks))
    await h.poll()
    await h.deliver()


def cards(h: Harness) -> list[int]:
    return [m.id for m in h.fake.messages(h.fake.defaults.seminars) if m.embeds]


async def test_each_announced_talk_gets_one_thread_named_after_it(bot_harness: Harness) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK, OTHER)
    await announce(h, TALK, OTHER)  # nothing new: no second thread either
    threads = h.fake.threads(h.fake.defaults.seminars)
    assert sorted(t.id for t in threads) == sorted(cards(h))
    assert {t.name for t in threads} == {
        "Ada Mahoney — Graph minors and the structure of everything",
        "Alan Turing — Morphogenesis",
    }
    assert {t.auto_archive_duration for t in threads} == {AUTO_ARCHIVE_MINUTES}
    assert len([r for r in thread_requests(h.fake) if r[0] == "POST"]) == 2


async def test_a_long_hostile_title_makes_an_inert_name_within_the_limit(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    await h.start()
    await announce(h, replace(TALK, title="@everyone <@&123456789012345678> " + "very " * 40))
    (thread,) = h.fake.threads()
    assert len(thread.name) <= 100 and thread.name.endswith("…")
    assert "@everyone" not in thread.name and "<@&" not in thread.name


async def test_a_reschedule_and_a_cancellation_are_said_under_the_card_and_in_the_thread(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    (card,) = cards(h)
    moved = replace(TALK, start=TALK.start + timedelta(hours=3))
    await announce(h, moved)
    await announce(h, replace(moved, status="CANCELLED"))
    replies = [m for m in h.fake.messages(h.fake.defaults.seminars) if not m.embeds]
    in_thread = h.fake.messages(card)
    assert [m.content for m in in_thread] == [m.content for m in replies]
    assert [m.content.split(":")[0] for m in in_thread] == ["Rescheduled", "Cancelled"]
    assert all(m.payload["allowed_mentions"]["parse"] == [] for m in in_thread)
    assert len(h.fake.threads()) == 1


async def test_a_talk_announced_before_threads_gets_its_thread_when_it_changes(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    assert h.fake.threads() == []
    bot = h.bot
    assert bot is not None
    await bot.run_db(feed_store.set_feed_setting, await h.feed_id(), "talk_threads", True, now=NOW)
    await announce(h, replace(TALK, start=TALK.start + timedelta(hours=1)))
    (card,) = cards(h)
    (thread,) = h.fake.threads()
    assert thread.id == card
    assert [m.content.split(":")[0] for m in h.fake.messages(thread.id)] == ["Rescheduled"]


async def test_threads_are_archived_a_day_after_the_talk_and_not_before(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    (thread,) = h.fake.threads()
    talks_end = TALK.end
    bot = h.bot
    assert bot is not None and bot.talk_threads is not None
    h.clock.set(talks_end + timedelta(hours=23, minutes=59))
    assert await bot.talk_threads.run_pass() == 0
    assert not thread.archived
    h.clock.set(talks_end + timedelta(days=1))
    assert await bot.talk_threads.run_pass() == 1
    assert thread.archived
    patches = [r for r in thread_requests(h.fake) if r[0] == "PATCH"]
    assert [(p[1], p[2]) for p in patches] == [(f"/channels/{thread.id}", 200)]
    assert await bot.talk_threads.run_pass() == 0  # archived once, not again
    # A restart keeps the record: nothing is archived twice.
    await h.restart()
    assert await h.bot.talk_threads.run_pass() == 0  # type: ignore[union-attr]
    assert len([r for r in thread_requests(h.fake) if r[0] == "PATCH"]) == 1


async def test_a_rescheduled_talk_s_thread_closes_a_day_after_the_new_end(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    later = replace(TALK, start=TALK.start + timedelta(days=2))
    await announce(h, later)
    (thread,) = h.fake.threads()
    bot = h.bot
    assert bot is not None and bot.talk_threads is not None
    h.clock.set(TALK.end + timedelta(days=1, hours=1))
    assert await bot.talk_threads.run_pass() == 0 and not thread.archived
    h.clock.set(later.end + timedelta(days=1))
    assert await bot.talk_threads.run_pass() == 1 and thread.archived


async def _crash_after_intent(h: Harness, *, send_request: bool) -> int:
    """What a kill between the thread request and its record leaves: a committed intent, and
    (with ``send_request``) a thread Discord created that the bot never heard about."""
    bot = h.bot
    assert bot is not None
    feed = await bot.run_db(feed_store.get_feed, await h.feed_id())
    # Announce with threads off, so only the card is posted; then turn them on.
    (card,) = cards(h)
    announcement = await bot.run_db(
        lambda db: db.conn.execute(
            "SELECT announcement_id FROM announcements WHERE message_id = ?", [card]
        ).fetchone()[0]
    )
    await bot.run_db(
        threads_service.intend,
        announcement_id=announcement,
        channel_id=h.fake.defaults.seminars.id,
        feed_id=feed.id,
        guild_id=feed.guild_id,
        message_id=card,
        name="Ada Mahoney — Graph minors",
        archive_at=TALK.end + timedelta(days=1),
        now=NOW,
    )
    await bot.run_db(feed_store.set_feed_setting, feed.id, "talk_threads", True, now=NOW)
    if send_request:
        channel = bot.get_channel(h.fake.defaults.seminars.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.get_partial_message(card).create_thread(
            name="Ada Mahoney — Graph minors", auto_archive_duration=AUTO_ARCHIVE_MINUTES
        )
    return card


async def test_a_kill_between_the_thread_request_and_its_record_leaves_one_thread(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    card = await _crash_after_intent(h, send_request=True)
    await h.stop()
    h.extra_config = THREADS_ON  # the config file wins at a restart
    bot = await h.start()
    assert bot.talk_threads is not None
    await bot.talk_threads.run_pass()
    assert [t.id for t in h.fake.threads()] == [card]
    starts = [r for r in thread_requests(h.fake) if r[0] == "POST"]
    assert [s[2] for s in starts] == [200, 400]  # the retry heard "already created"
    row = await bot.run_db(
        threads_service.thread_for, await _announcement(h, card), h.fake.defaults.seminars.id
    )
    assert row is not None and (row.state, row.thread_id) == ("open", card)
    # A reschedule now goes into that thread; still no second thread.
    await announce(h, replace(TALK, start=TALK.start + timedelta(hours=1)))
    assert [t.id for t in h.fake.threads()] == [card]
    assert len(h.fake.messages(card)) == 1


async def test_a_kill_before_the_thread_request_still_ends_with_one_thread(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    card = await _crash_after_intent(h, send_request=False)
    await h.stop()
    h.extra_config = THREADS_ON  # the config file wins at a restart
    bot = await h.start()
    assert bot.talk_threads is not None
    await bot.talk_threads.run_pass()
    await bot.talk_threads.run_pass()
    assert [t.id for t in h.fake.threads()] == [card]
    assert [r[2] for r in thread_requests(h.fake) if r[0] == "POST"] == [200]


async def _announcement(h: Harness, card: int) -> str:
    assert h.bot is not None
    return str(
        await h.bot.run_db(
            lambda db: db.conn.execute(
                "SELECT announcement_id FROM announcements WHERE message_id = ?", [card]
            ).fetchone()[0]
        )
    )


async def test_missing_thread_permissions_switch_the_feature_off_with_one_notice(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON  # the bot's role lacks the thread permissions
    await h.start()
    await announce(h, TALK, OTHER)  # two cards in one delivery pass
    third = replace(TALK, post_id=8003, title="Third")
    await announce(h, TALK, OTHER, third)
    await announce(h, replace(TALK, start=TALK.start + timedelta(hours=1)), OTHER, third)
    assert len(cards(h)) == 3  # announcing goes on
    assert thread_requests(h.fake) == []  # checked before use: no refused request
    owner = h.fake.defaults.owner
    await h.fake.wait_for(lambda: len(h.fake.dms(owner)) >= 1)
    (notice,) = h.fake.dms(owner)
    assert (
        "Create Public Threads" in notice.content and "Send Messages in Threads" in notice.content
    )
    assert h.bot is not None
    feed = await h.bot.run_db(feed_store.get_feed, await h.feed_id())
    assert feed.settings["talk_threads"] is False


async def test_a_refusal_from_discord_also_switches_threads_off_once(bot_harness: Harness) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    h.fake.inject_fault("POST", "/channels/*/messages/*/threads", 403, code=50013, times=5)
    await h.start()
    await announce(h, TALK)
    await announce(h, TALK, OTHER)
    assert len(cards(h)) == 2 and h.fake.threads() == []
    assert len([r for r in thread_requests(h.fake) if r[0] == "POST"]) == 1
    await h.fake.wait_for(lambda: len(h.fake.dms(h.fake.defaults.owner)) >= 1)
    assert len(h.fake.dms(h.fake.defaults.owner)) == 1


async def test_threads_are_off_by_default_and_cost_no_request(bot_harness: Harness) -> None:
    h = bot_harness
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    await announce(h, replace(TALK, start=TALK.start + timedelta(hours=1)))
    await announce(h, replace(TALK, start=TALK.start + timedelta(hours=1), status="CANCELLED"))
    assert h.bot is not None and h.bot.talk_threads is not None
    h.clock.set(TALK.end + timedelta(days=3))
    await h.bot.talk_threads.run_pass()
    assert thread_requests(h.fake) == []
    assert h.fake.threads() == []
    assert not any(isinstance(c, FakeThread) for c in h.fake.defaults.guild.channels)


async def settings(h: Harness, **options: object) -> str:
    iid = h.fake.inject_command(
        "feeds settings", {"feed": "cs-seminar", **options}, user=h.fake.defaults.admin
    )
    record = await h.fake.wait_for_interaction_response(iid, timeout=10)
    assert record.rejected == []
    return str(record.response_data["content"])


async def test_feeds_settings_refuses_threads_without_the_permissions(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    answer = await settings(h, talk_threads=True)
    assert "Create Public Threads" in answer and "Send Messages in Threads" in answer
    assert h.bot is not None
    feed = await h.bot.run_db(feed_store.get_feed, await h.feed_id())
    assert feed.settings.get("talk_threads") is False


async def test_feeds_settings_turns_threads_on_and_a_new_refusal_is_told_again(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    allow_threads(h.fake)
    h.extra_config = THREADS_ON
    h.fake.inject_fault("POST", "/channels/*/messages/*/threads", 403, code=50013, times=2)
    await h.start()
    await announce(h, TALK)  # refused: switched off, first notice
    owner = h.fake.defaults.owner
    await h.fake.wait_for(lambda: len(h.fake.dms(owner)) == 1)
    answer = await settings(h, talk_threads=True)
    assert "Thread per talk: on" in answer
    await announce(h, TALK, OTHER)  # refused again after the admin's change: told again
    await h.fake.wait_for(lambda: len(h.fake.dms(owner)) == 2)
    answer = await settings(h, talk_threads=True)
    await announce(h, TALK, OTHER, replace(TALK, post_id=8003, title="Third"))
    threads = h.fake.threads()
    assert len(threads) == 1 and threads[0].name == "Ada Mahoney — Third"
    assert len(h.fake.dms(owner)) == 2


async def test_an_archive_discord_refuses_is_tried_later_not_in_a_loop(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    (thread,) = h.fake.threads()
    bot = h.bot
    assert bot is not None and bot.talk_threads is not None
    h.fake.inject_fault("PATCH", f"/channels/{thread.id}", 400, code=50035)
    h.clock.set(TALK.end + timedelta(days=1))
    assert await bot.talk_threads.run_pass() == 0
    assert await bot.talk_threads.run_pass() == 0
    assert len([r for r in thread_requests(h.fake) if r[0] == "PATCH"]) == 1
    h.clock.advance(minutes=10)
    assert await bot.talk_threads.run_pass() == 1 and thread.archived


async def test_a_thread_the_bot_may_not_archive_is_left_to_discord(bot_harness: Harness) -> None:
    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    await h.start()
    await announce(h, TALK)
    (thread,) = h.fake.threads()
    bot = h.bot
    assert bot is not None and bot.talk_threads is not None
    h.fake.inject_fault("PATCH", f"/channels/{thread.id}", 403, code=50013)
    h.clock.set(TALK.end + timedelta(days=2))
    await bot.talk_threads.run_pass()
    h.clock.advance(days=1)
    await bot.talk_threads.run_pass()
    assert len([r for r in thread_requests(h.fake) if r[0] == "PATCH"]) == 1
    assert not thread.archived


async def test_a_card_recovered_by_its_marker_after_a_crash_gets_its_thread(
    bot_harness: Harness,
) -> None:
    from tests.discord_ui.test_delivery_faults import crash_after_post, queue_announcement

    h = bot_harness
    h.extra_config = THREADS_ON
    allow_threads(h.fake)
    await h.start()
    row = await queue_announcement(h)
    posted = await crash_after_post(h, row)
    await h.stop()
    h.clock.advance(minutes=30)
    h.fake.advance(30 * 60)  # Discord has forgotten the nonce: found in history instead
    await h.start()
    await h.deliver()
    assert cards(h) == [posted]
    assert [t.id for t in h.fake.threads()] == [posted]
