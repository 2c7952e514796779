""" "I'm going" through the fake Discord with the real bot: the toggle and its reminder, the
debounced count on the card, restarts, reschedules, cancellations, ``/unsubscribe all`` and
the admins' list."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bench.feedgen import Talk, render_feed
from bot.discord_ui.cogs.going import attendee_list
from tests.discord_ui.harness import NOW, Harness
from tests.discord_ui.reminder_helpers import (
    announce,
    click_remind,
    command,
    reminders,
    tick_at,
)
from tests.fakediscord.records import SentMessage
from tests.fakediscord.state import FakeMember, FakeUser

TALK = Talk(post_id=7301, start=NOW + timedelta(days=2, hours=3), title="Counting heads")


def add_members(h: Harness, count: int) -> list[FakeUser]:
    guild = h.fake.defaults.guild
    users = []
    for i in range(count):
        user = FakeUser(910_000_000_000 + i, f"student{i}")
        h.fake.users[user.id] = user
        guild.members.append(FakeMember(user))
        users.append(user)
    return users


def going_button(message: dict[str, Any]) -> dict[str, Any]:
    for row in message.get("components", []):
        for child in row.get("components", []):
            if str(child.get("custom_id", "")).startswith("going:"):
                return dict(child)
    raise AssertionError("announcement has no I'm going button")


def label_now(h: Harness, card: SentMessage) -> str:
    """The going button's label as Discord shows it now (after every edit)."""
    return str(going_button(h.fake.message(card.id).message)["label"])


def card_edits(h: Harness, card: SentMessage) -> list[Any]:
    return [e for e in h.fake.edits if e.message_id == card.id]


async def click_going(h: Harness, card: SentMessage, user: Any) -> str:
    custom_id = str(going_button(card.message)["custom_id"])
    iid = h.fake.click_button(card.id, custom_id, user=user)
    record = await h.fake.wait_for_interaction_response(iid, timeout=5)
    assert record.response_data is not None
    assert record.response_data["flags"] & 64, "the answer must be private"
    return str(record.response_data.get("content", ""))


async def settle(h: Harness, seconds: float = 10.0) -> None:
    """Move the clock past every debounce and let the card editor run its pass."""
    assert h.bot is not None and h.bot.going is not None
    h.clock.advance(seconds=seconds)
    await h.bot.going.flush()


async def test_the_card_carries_both_buttons_and_no_count_until_someone_goes(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    (row,) = card.message["components"]
    assert [c["label"] for c in row["components"]] == ["Remind me", "I'm going"]
    assert card_edits(h, card) == []


async def test_fifty_members_in_ten_seconds_cost_at_most_five_edits_and_no_429(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.fake.enable_channel_rate_limit(limit=5, per=5.0)
    h.fake.enable_channel_edit_rate_limit(limit=5, per=5.0)
    members = add_members(h, 50)
    await h.start()
    assert h.bot is not None and h.bot.going is not None
    (card,) = await announce(h, TALK)
    requests_before = len(h.fake.requests)
    start = h.clock.now()
    answers = []
    for i, member in enumerate(members):  # one click every 0.2 s: 50 clicks in 9.8 s
        h.clock.set(start + timedelta(seconds=0.2 * i))
        answers.append(await click_going(h, card, member))
        await h.bot.going.flush()  # the editor's pass, as its wake-up would run it
    assert answers[0].startswith("You're going to **Counting heads** — 1 going.")
    assert "— 50 going." in answers[-1]
    await settle(h)

    edits = card_edits(h, card)
    patches = [
        r
        for r in h.fake.requests[requests_before:]
        if r.method == "PATCH" and str(card.id) in r.path
    ]

    def dm_opens() -> int:
        return sum(
            1 for r in h.fake.requests[requests_before:] if r.path.endswith("/users/@me/channels")
        )

    # Each member's DM channel is opened while they click (as for "Remind me"), once.
    await h.fake.wait_for(lambda: dm_opens() == 50, timeout=10)
    burst = h.fake.requests[requests_before:]
    print(f"50 clicks: {len(edits)} card edits, {len(burst)} requests in all")
    assert len(burst) == 50 + 50 + len(edits)  # answers, DM channels opened ahead, edits
    assert 1 <= len(edits) <= 5 and len(patches) == len(edits)
    assert h.fake.rate_limited_count == 0
    assert label_now(h, card) == "I'm going · 50"
    # Only the buttons changed: the card's text is what was posted.
    assert h.fake.message(card.id).message["embeds"] == card.as_created["embeds"]
    for edit in edits:
        assert edit.payload["allowed_mentions"] == {"parse": []}
    # Each member has the default reminder, as "Remind me" would have set it.
    dm = [r for r in await reminders(h) if r.kind == "reminder" and r.target_kind == "dm"]
    assert len({r.user_id for r in dm}) == 50


async def test_counts_survive_a_restart_and_a_lost_edit_is_made_at_start_up(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    members = add_members(h, 4)
    await h.start()
    (card,) = await announce(h, TALK)
    for member in members[:3]:
        await click_going(h, card, member)
    # Stopped before the debounced edit was due: the card still says nothing.
    await h.stop()
    assert label_now(h, card) == "I'm going"
    h.clock.advance(seconds=10)
    bot = await h.start()
    assert bot.going is not None
    await bot.going.flush()  # the start-up pass (or this one) makes the lost edit
    assert label_now(h, card) == "I'm going · 3"

    # The buttons on the old message work after the restart.
    assert "— 4 going." in await click_going(h, card, members[3])
    await settle(h)
    assert label_now(h, card) == "I'm going · 4"
    assert "Removed" in await click_going(h, card, members[0])
    await settle(h)
    assert label_now(h, card) == "I'm going · 3"


async def test_toggling_twice_is_not_going_and_removes_only_the_reminder_going_set(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    d = h.fake.defaults
    alice, admin = d.member, d.admin
    assert "I'll remind you by DM 15m before" in await click_going(h, card, alice)
    assert "15m before **Counting heads**" in await command(h, "subscriptions", None, alice)
    answer = await click_going(h, card, alice)
    assert answer.startswith("Removed: you're not going")
    assert "reminder that came with it is removed" in answer
    assert "You have no reminders" in await command(h, "subscriptions", None, alice)
    dm = [r for r in await reminders(h) if r.target_kind == "dm" and r.user_id == alice.id]
    assert [r.state for r in dm] == ["cancelled"]
    await settle(h)
    assert label_now(h, card) == "I'm going"

    # A reminder the member asked for themselves stays when they stop going, whether they
    # asked before going or afterwards (pressing "Remind me" makes going's reminder theirs).
    for first_remind in (True, False):
        if first_remind:
            await click_remind(h, card, admin)
        await click_going(h, card, admin)
        if not first_remind:
            await click_remind(h, card, admin)
        answer = await click_going(h, card, admin)
        assert answer.startswith("Removed") and "reminder" not in answer
        assert "15m before **Counting heads**" in await command(h, "subscriptions", None, admin)
        await command(h, "unsubscribe", {"subscription": "all"}, admin)


async def test_going_reminders_off_means_going_sets_no_reminder(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    text = await command(h, "subscriptions", {"going_reminders": "off"}, alice)
    assert "no longer sets a reminder" in text
    answer = await click_going(h, card, alice)
    assert "— 1 going." in answer and "remind" not in answer
    assert "You have no reminders" in await command(h, "subscriptions", None, alice)


async def test_a_reschedule_moves_the_reminders_and_tells_each_person_once(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    d = h.fake.defaults
    alice, admin, owner = d.member, d.admin, d.owner
    await click_going(h, card, alice)  # going, with the default reminder
    await command(h, "subscriptions", {"going_reminders": "off"}, admin)
    await click_going(h, card, admin)  # going, no reminder
    await click_remind(h, card, owner)  # a reminder only

    moved = TALK.moved(TALK.start + timedelta(hours=2))  # the UID changes (Events Calendar)
    h.feeds.body = render_feed([moved])
    assert [a.kind.value for a in (await h.poll()).actions] == ["reschedule"]
    await tick_at(h, NOW + timedelta(minutes=1))
    h.feeds.body = render_feed([replace(moved, abstract="Same time, new words.")])
    await h.poll()
    await tick_at(h, NOW + timedelta(minutes=2))
    footers = {}
    for user in (alice, admin, owner):
        (notice,) = h.fake.dms(user)
        assert "has changed" in notice.message["content"]
        assert f"<t:{int(moved.start.timestamp())}:F>" in str(notice.message["embeds"])
        footers[user.id] = notice.message["embeds"][0]["footer"]["text"]
    assert footers == {
        alice.id: "Your reminders moved with it",
        admin.id: "You're still down as going",  # going without a reminder
        owner.id: "Your reminders moved with it",
    }
    dm = [r for r in await reminders(h) if r.kind == "reminder" and r.target_kind == "dm"]
    assert {r.user_id: r.due_at for r in dm} == {
        alice.id: moved.start - timedelta(minutes=15),
        owner.id: moved.start - timedelta(minutes=15),
    }
    # Still going after the move: the same button on the same card.
    assert "— 3 going." in await click_going(h, card, owner)


async def test_a_cancellation_tells_each_person_once_and_ends_attendance(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    d = h.fake.defaults
    alice, admin = d.member, d.admin
    await click_going(h, card, alice)
    await command(h, "subscriptions", {"going_reminders": "off"}, admin)
    await click_going(h, card, admin)
    await settle(h)
    assert label_now(h, card) == "I'm going · 2"

    h.feeds.body = render_feed([replace(TALK, status="CANCELLED")])
    assert [a.kind.value for a in (await h.poll()).actions] == ["cancel"]
    await h.poll()
    await tick_at(h, NOW + timedelta(minutes=1))
    await tick_at(h, TALK.start - timedelta(minutes=15))
    for user, footer in ((alice, "Its reminders are cancelled"), (admin, "ends with it")):
        (notice,) = h.fake.dms(user)
        assert "was cancelled" in notice.message["content"]
        assert footer in notice.message["embeds"][0]["footer"]["text"]
    await settle(h)
    assert label_now(h, card) == "I'm going"
    assert "was cancelled" in await click_going(h, card, alice)


async def test_unsubscribe_all_ends_attendance_too(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_going(h, card, alice)
    await settle(h)
    assert label_now(h, card) == "I'm going · 1"
    text = await command(h, "unsubscribe", {"subscription": "all"}, alice)
    assert text == "Removed 1 subscription(s). You are no longer going to 1 talk(s)."
    await settle(h)
    assert label_now(h, card) == "I'm going"
    assert "— 1 going." in await click_going(h, card, alice)


async def _show(h: Harness, user: Any) -> dict[str, Any]:
    iid = h.fake.inject_command("seminars show", {"event": TALK.title}, user=user)
    record = await h.fake.wait_for_interaction_response(iid, timeout=5)
    assert record.response_data is not None
    return dict(record.response_data) | {"message_id": record.original_message_id}


def _custom_ids(data: dict[str, Any]) -> list[str]:
    return [
        str(c.get("custom_id", ""))
        for row in data.get("components", [])
        for c in row.get("components", [])
    ]


async def test_seminars_show_gives_the_count_and_only_admins_see_who(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    d = h.fake.defaults
    shown = await _show(h, d.member)
    assert "Going" not in str(shown["embeds"])  # nobody yet: the card is unchanged
    for user in (d.member, d.owner):
        await click_going(h, card, user)

    shown = await _show(h, d.member)
    (embed,) = shown["embeds"]
    assert {"name": "Going", "value": "🙋 2", "inline": False} in embed["fields"]
    assert not [c for c in _custom_ids(shown) if c.startswith("whogoing:")]

    shown = await _show(h, d.admin)
    (who,) = [c for c in _custom_ids(shown) if c.startswith("whogoing:")]
    iid = h.fake.click_button(shown["message_id"], who, user=d.admin)
    record = await h.fake.wait_for_interaction_response(iid, timeout=5)
    assert record.response_data is not None and record.response_data["flags"] & 64
    listing = record.response_data["content"]
    assert listing.startswith("**Counting heads** — 2 going:")
    assert f"<@{d.member.id}>" in listing and f"<@{d.owner.id}>" in listing
    assert record.response_data["allowed_mentions"] == {"parse": []}

    iid = h.fake.click_button(shown["message_id"], who, user=d.member)
    record = await h.fake.wait_for_interaction_response(iid, timeout=5)
    assert record.response_data is not None
    assert "Only server admins" in record.response_data["content"]
    assert str(d.owner.id) not in record.response_data["content"]


def test_the_admins_list_fits_one_message_however_many_are_going() -> None:
    text = attendee_list("A *talk*", list(range(10**17, 10**17 + 500)))
    assert len(text) <= 2000
    assert text.startswith("**A \\*talk\\*** — 500 going:\n<@100000000000000000>, ")
    assert text.endswith("more")
    assert attendee_list("T", []) == "**T** — 0 going."
    assert attendee_list("T", [5, 6]) == "**T** — 2 going:\n<@5>, <@6>"


async def test_an_edit_discord_refuses_for_a_moment_is_made_later_with_the_exact_count(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    members = add_members(h, 3)
    await h.start()
    (card,) = await announce(h, TALK)
    h.fake.inject_fault("PATCH", f"/channels/*/messages/{card.id}", 503)
    await click_going(h, card, members[0])
    await settle(h)  # refused: the mark stays
    assert label_now(h, card) == "I'm going"
    await click_going(h, card, members[1])
    await settle(h)
    assert label_now(h, card) == "I'm going · 2"
    assert len(card_edits(h, card)) == 1


async def test_many_cards_clicked_at_once_share_the_channel_budget(bot_harness: Harness) -> None:
    h = bot_harness
    h.fake.enable_channel_edit_rate_limit(limit=5, per=5.0)
    await h.start()
    assert h.bot is not None and h.bot.going is not None
    talks = [
        replace(TALK, post_id=7400 + i, title=f"Talk {i}", start=TALK.start + timedelta(hours=i))
        for i in range(5)
    ]
    for shown in range(1, len(talks) + 1):  # one new talk per poll: each gets its own card
        h.feeds.body = render_feed(talks[:shown])
        await h.poll()
        await h.deliver()
    cards = [m for m in h.fake.messages(h.fake.defaults.seminars) if m.message.get("embeds")]
    assert len(cards) == 5
    before = len(h.fake.edits)
    for card in cards:
        await click_going(h, card, h.fake.defaults.member)
    h.clock.advance(seconds=1)
    await h.bot.going.flush()
    assert len(h.fake.edits) - before == 4  # the channel's budget; the fifth card waits
    await settle(h)
    assert len(h.fake.edits) - before == 5
    assert [label_now(h, c) for c in cards] == ["I'm going · 1"] * 5
    assert h.fake.rate_limited_count == 0
