"""End to end: feed on a loopback server → real bot → fake Discord, as members would see it."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from bench.feedgen import Talk, render_feed
from tests.discord_ui.harness import NOW, Harness, embeds_of

TALK = Talk(
    post_id=7001,
    start=NOW + timedelta(days=2, hours=3),
    speaker="Grace Hopper",
    affiliation="Yale University",
    title="Compilers for everyone",
)


async def test_new_event_is_announced_once_as_an_embed(bot_harness: Harness) -> None:
    h = bot_harness
    h.feeds.body = render_feed([TALK])
    await h.start()
    outcome = await h.poll()
    assert outcome.status == "ok" and len(outcome.actions) == 1
    seminars = h.fake.defaults.seminars
    (message,) = await h.fake.wait_for_messages(seminars, 1)
    embed = message.message["embeds"][0]
    assert embed["title"] == "Compilers for everyone"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Speaker"] == "Grace Hopper · Yale University"
    assert fields["When"].startswith(f"<t:{int(TALK.start.timestamp())}:F>")
    assert fields["Where"] == "Hackerman Hall B-17"
    assert embed["url"].split("#")[0] == TALK.url  # the title opens the event page
    assert message.payload["allowed_mentions"]["parse"] == []
    assert message.payload["nonce"].startswith("ob")

    # Polling the same feed again posts nothing new.
    h.feeds.body = render_feed([TALK], stamp=NOW)
    assert (await h.poll()).actions == ()
    await h.deliver()
    assert len(h.fake.messages(seminars)) == 1
    assert await h.outbox_states() == ["sent"]


async def announce(h: Harness, *talks: Talk) -> None:
    h.feeds.body = render_feed(list(talks))
    await h.poll()
    await h.fake.wait_for_messages(h.fake.defaults.seminars, 1)
    await h.deliver()


async def test_edited_event_edits_the_same_message(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await announce(h, TALK)
    (original,) = h.fake.messages(h.fake.defaults.seminars)
    h.feeds.body = render_feed([replace(TALK, abstract="A new abstract, rewritten.")])
    outcome = await h.poll()
    assert [a.kind.value for a in outcome.actions] == ["update"]
    await h.deliver()
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1
    (edit,) = h.fake.edits
    assert edit.message_id == original.id
    assert edit.payload["allowed_mentions"]["parse"] == []
    assert "A new abstract, rewritten." in original.message["embeds"][0]["description"]


async def test_rescheduled_event_is_edited_with_one_follow_up_line(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await announce(h, TALK)
    (original,) = h.fake.messages(h.fake.defaults.seminars)
    moved = TALK.moved(TALK.start + timedelta(hours=2))  # The Events Calendar: the UID changes
    h.feeds.body = render_feed([moved])
    outcome = await h.poll()
    assert [a.kind.value for a in outcome.actions] == ["reschedule"]
    await h.deliver()
    messages = h.fake.messages(h.fake.defaults.seminars)
    assert len(messages) == 2
    assert [e.message_id for e in h.fake.edits] == [original.id]
    assert original.message["embeds"][0]["title"].startswith("Rescheduled: ")
    follow_up = messages[1]
    assert follow_up.content.startswith("Rescheduled: Compilers for everyone is now <t:")
    assert str(follow_up.payload["message_reference"]["message_id"]) == str(original.id)
    assert follow_up.payload["allowed_mentions"]["parse"] == []
    # Re-polling the moved feed changes nothing more.
    await h.poll()
    await h.deliver()
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 2 and len(h.fake.edits) == 1


async def test_cancelled_event_is_marked_cancelled(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await announce(h, TALK)
    (original,) = h.fake.messages(h.fake.defaults.seminars)
    h.feeds.body = render_feed([replace(TALK, status="CANCELLED")])
    await h.poll()
    await h.deliver()
    embed = original.message["embeds"][0]
    assert embed["title"].endswith("Cancelled: Compilers for everyone")
    assert embed["description"] == "**This event has been cancelled.**"  # no abstract, no bio
    follow_ups = h.fake.messages(h.fake.defaults.seminars)[1:]
    assert [m.content.split(":")[0] for m in follow_ups] == ["Cancelled"]


async def test_restart_between_poll_and_delivery_loses_nothing_and_doubles_nothing(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.feeds.body = render_feed([TALK])
    bot = await h.start()
    assert bot.poller is not None and bot.delivery is not None
    settings_row = await h.feed_id()
    # Poll without waking delivery, then stop: the announcement is only in the outbox.
    from bot.service.feeds import settings_from_row
    from bot.store import feeds as feed_store

    row = await bot.run_db(feed_store.get_feed, settings_row)
    await bot.poller.poll(settings_row, settings_from_row(row), trusted=True)
    await h.stop()
    assert h.fake.messages(h.fake.defaults.seminars) == []
    await h.start()
    await h.fake.wait_for_messages(h.fake.defaults.seminars, 1)
    await h.deliver()
    await h.restart()
    await h.deliver()
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1
    assert await h.outbox_states() == ["sent"]


async def test_server_error_after_create_still_gives_one_message(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    h.fake.inject_fault("POST", "/channels/*/messages", 502, after=True, times=1)
    await announce(h, TALK)
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1


async def test_rate_limit_is_waited_out(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    h.fake.inject_fault("POST", "/channels/*/messages", 429, retry_after=0.05, times=1)
    await announce(h, TALK)
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1
    assert await h.outbox_states() == ["sent"]


async def test_forbidden_channel_disables_the_target_and_tells_the_owner_once(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.channel_id = h.fake.defaults.readonly.id
    h.feeds.body = render_feed([TALK, replace(TALK, post_id=7002, title="Second talk")])
    await h.start()
    await h.poll()
    await h.fake.wait_for(lambda: len(h.fake.dms(h.fake.defaults.owner)) == 1)
    for _ in range(5):
        await h.deliver()
        await h.poll()
    (notice,) = h.fake.dms(h.fake.defaults.owner)
    assert "stopped announcing feed **cs-seminar**" in notice.content
    assert h.fake.messages(h.fake.defaults.readonly) == []
    posts = [
        r
        for r in h.fake.requests
        if r.method == "POST" and str(h.fake.defaults.readonly.id) in r.path
    ]
    assert len(posts) <= 1  # checked locally first: at most one refused request
    assert set(await h.outbox_states()) == {"pending"}  # kept, not lost


async def test_mentions_in_feed_text_ping_no_one(bot_harness: Harness) -> None:
    h = bot_harness
    hostile = replace(
        TALK,
        summary_override="@everyone <@&123> <@456> [click](http://x.example) \u202egnp.exe",
        abstract="@here see <#789> and </feeds add:1>",
    )
    await h.start()
    await announce(h, hostile)
    h.feeds.body = render_feed([replace(hostile, room="Room @everyone")])
    await h.poll()
    await h.deliver()
    message, room_change = h.fake.messages(h.fake.defaults.seminars)
    assert room_change.content.startswith("Room change: ")
    assert "@\u200beveryone" in room_change.content
    assert message.payload["allowed_mentions"]["parse"] == []
    assert room_change.payload["allowed_mentions"]["parse"] == []
    assert h.fake.edits and all(e.payload["allowed_mentions"]["parse"] == [] for e in h.fake.edits)
    for sent in h.fake.sent:
        assert sent.message.get("mention_everyone") is False
        assert sent.message.get("mention_roles") == [] and sent.message.get("mentions") == []
    title = message.message["embeds"][0]["title"]
    assert "\u202e" not in title and "@\u200beveryone" in title


async def test_a_burst_of_new_events_becomes_digests_without_429s(bot_harness: Harness) -> None:
    h = bot_harness
    h.fake.enable_channel_rate_limit(limit=3, per=0.5)
    talks = [
        replace(
            TALK, post_id=8000 + i, title=f"Talk {i}", start=TALK.start + timedelta(minutes=10 * i)
        )
        for i in range(60)
    ]
    await h.start()
    h.feeds.body = render_feed(talks)
    for _ in range(6):  # ten announcements per poll: six polls, one digest each
        await h.poll()
        await h.deliver()
        h.clock.advance(minutes=1)
    await h.fake.wait_for(lambda: len(h.fake.messages(h.fake.defaults.seminars)) >= 6, timeout=15)
    messages = h.fake.messages(h.fake.defaults.seminars)
    assert len(messages) == 6
    assert [len(m.message["embeds"]) for m in messages] == [10] * 6
    titles = [e["title"] for e in embeds_of(messages)]
    assert titles == [f"Talk {i}" for i in range(60)]
    assert h.fake.rate_limited_count == 0
    assert set(await h.outbox_states()) == {"sent"}


async def test_gateway_drop_resumes_and_nothing_is_lost(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    h.fake.drop_gateway()
    await h.fake.wait_for(lambda: h.fake.resume_count == 1, timeout=10)
    await announce(h, TALK)
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1


def flood_feed(count: int) -> bytes:
    """One VEVENT whose RDATEs put ``count`` occurrences inside the announce window."""
    first = NOW + timedelta(hours=2)
    stamps = [(first + timedelta(minutes=30 * i)).strftime("%Y%m%dT%H%M%SZ") for i in range(count)]
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//flood//EN", "BEGIN:VEVENT",
        "UID:flood@example.edu", "DTSTAMP:20261201T000000Z", f"DTSTART:{stamps[0]}",
        "DURATION:PT20M", "SUMMARY:Office hours", *(f"RDATE:{s}" for s in stamps[1:]),
        "END:VEVENT", "END:VCALENDAR",
    ]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode()


async def test_an_rdate_flood_is_announced_a_budget_at_a_time_and_nothing_is_lost(
    bot_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.store import feeds as feed_store

    h = bot_harness
    h.feeds.body = flood_feed(45)
    h.feeds.etag = '"flood-1"'  # the feed never changes: a 304 must not strand the backlog
    await h.start()
    seminars = h.fake.defaults.seminars
    with caplog.at_level(logging.WARNING, logger="bot.service.poller"):
        outcome = await h.poll()
    assert len(outcome.actions) == 10 and len(outcome.outbox_ids) == 10
    assert outcome.deferred == 35
    assert "35 announcements held back by the budget of 10 per poll" in caplog.text
    assert h.bot is not None
    row = await h.bot.run_db(feed_store.get_feed, await h.feed_id())
    assert row is not None and row.deferred_announcements == 35
    iid = h.fake.inject_command("feeds status", {"feed": "cs-seminar"}, user=h.fake.defaults.admin)
    record = await h.fake.wait_for_interaction_response(iid, timeout=10)
    (status,) = record.response_data["embeds"]
    waiting = {f["name"]: f["value"] for f in status["fields"]}["Announcements waiting"]
    assert waiting.startswith("35 held back")
    await h.deliver()

    for _ in range(10):  # bounded: 4 more polls release the 35, then the feed is quiet
        h.clock.advance(minutes=1)
        if not (await h.poll()).actions:
            break
        await h.deliver()
    starts = [
        f["value"] for e in embeds_of(h.fake.messages(seminars)) for f in e["fields"]
        if f["name"] == "When"
    ]  # fmt: skip
    assert len(starts) == 45 and len(set(starts)) == 45  # every occurrence, exactly once
    assert all(len(m.message["embeds"]) <= 10 for m in h.fake.messages(seminars))
    row = await h.bot.run_db(feed_store.get_feed, await h.feed_id())
    assert row is not None and row.deferred_announcements == 0
    assert set(await h.outbox_states()) == {"sent"}
    assert h.feeds.not_modified >= 1  # once the backlog was gone, validators were used again


#: Markdown that doubles when made inert (every character escaped), plus a masked link.
HEAVY = "*_~`|[]\\" * 3 + "[x](https://e.example) "


def _heavy(prefix: str, length: int) -> str:
    return (prefix + HEAVY * 100)[:length].replace(":", " ").replace(",", " ")


def worst_digest_feed(count: int) -> bytes:
    """Events whose compact cards are as big as the parser lets feed text make them."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//worst//EN"]
    for i in range(count):
        start = NOW + timedelta(days=1, hours=i)
        summary = (
            f"{_heavy('Distinguished Lecture Series ', 40)}: {_heavy(f'Speaker{i} ', 40)}, "
            f"{_heavy('Affiliation ', 36)} – “{_heavy(f'Title{i} ', 100)}”"
        )
        lines += [
            "BEGIN:VEVENT", f"UID:worst-{i}@example.edu", "DTSTAMP:20261201T000000Z",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}", "DURATION:PT1H", f"SUMMARY:{summary}",
            f"LOCATION:{_heavy(f'Room {i} ', 256)}", f"DESCRIPTION:{_heavy('Abstract ', 3000)}",
            "END:VEVENT",
        ]  # fmt: skip
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def embed_total(message: dict[str, object]) -> int:
    from bot.core.discord_limits import embed_size

    return sum(embed_size(e) for e in message.get("embeds", []))  # type: ignore[attr-defined]


async def test_the_worst_digest_is_split_into_messages_discord_accepts(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.feeds.body = worst_digest_feed(10)
    await h.start()
    outcome = await h.poll()
    assert len(outcome.actions) == 10
    await h.deliver()
    seminars = h.fake.defaults.seminars
    messages = h.fake.messages(seminars)
    refused = [r for r in h.fake.requests if r.method == "POST" and r.status >= 400]
    assert refused == []  # every message was accepted as sent: measured, not trial and error
    assert all(embed_total(m.message) <= 6000 for m in messages)
    # Compact cards are trimmed hard, so ten of the worst may or may not need two messages;
    # either way no message is over the limit and none is split needlessly.
    cards_total = sum(embed_total(m.message) for m in messages)
    if cards_total <= 6000:
        assert len(messages) == 1
    else:
        assert len(messages) >= 2
    titles = [e["title"] for e in embeds_of(messages)]
    assert len(titles) == 10 and len({t.split(" ", 1)[0] for t in titles}) == 10
    assert await h.outbox_states() == ["sent"] * 10
    # The heading (and any role mention) is on the first message only.
    assert "10 new seminars announced" in messages[0].message["content"]
    assert all(not m.message.get("content") for m in messages[1:])


async def test_an_unchanged_feed_still_announces_a_talk_entering_the_window(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    later = replace(TALK, start=NOW + timedelta(days=9))  # beyond the 7-day announce window
    h.feeds.body = render_feed([later])
    h.feeds.etag = '"same"'
    await h.start()
    assert (await h.poll()).actions == ()
    h.clock.advance(hours=1)
    assert (await h.poll()).status == "not_modified"  # nothing due: validators are used
    h.clock.advance(days=3)  # the talk is now 6 days away, the feed has not changed
    outcome = await h.poll()
    assert [a.kind.value for a in outcome.actions] == ["announce"]
    await h.deliver()
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1
