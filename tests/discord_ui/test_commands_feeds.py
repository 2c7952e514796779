"""/feeds end to end: admins add, tune, diagnose and remove feeds through the fake Discord.

The SSRF guard refuses loopback addresses for feeds added from Discord, so the positive
``/feeds add`` tests give the bot a ``FeedFetcher`` that exempts exactly the loopback test
servers' (address, port) pairs; the negative tests use the bot's default fetcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from bench.feedgen import Talk, render_feed
from bot.feeds.http import FeedFetcher
from bot.store import events as event_store
from bot.store import feeds as feed_store
from tests.discord_ui.harness import NOW, Harness
from tests.fakediscord.records import EPHEMERAL, InteractionRecord

pytestmark = pytest.mark.timeout(60)

TALKS = [
    Talk(post_id=1, start=NOW + timedelta(days=1), speaker="Grace Hopper", title="Compilers"),
    Talk(post_id=2, start=NOW + timedelta(days=30), speaker="Ada Lovelace", title="Engines"),
]


class Site:
    """A second loopback server: an events page that advertises its calendar."""

    def __init__(self) -> None:
        self.port = 0
        self.html = ""
        self.calendar = render_feed(TALKS)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=self.html, content_type="text/html")

    async def ics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.calendar, content_type="text/calendar")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    s = Site()
    app = web.Application()
    app.router.add_get("/events/", s.page)
    app.router.add_get("/cal.ics", s.ics)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    s.port = runner.addresses[0][1]
    yield s
    await runner.cleanup()


def port_of(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


async def start(h: Harness, *ports: int) -> None:
    """Start the bot with a fetcher that may reach exactly these loopback ports."""
    h.feeds.body = render_feed(TALKS)
    allowed = {port_of(h.feeds.url), *ports}
    fetcher = FeedFetcher(
        allow_addresses=frozenset(("127.0.0.1", p) for p in allowed),
        allowed_ports={80, 443, *allowed},
    )
    await h.start(fetcher=fetcher)


async def run(
    h: Harness, name: str, options: dict[str, Any] | None = None, *, user: Any = None
) -> InteractionRecord:
    iid = h.fake.inject_command(name, options or {}, user=user or h.fake.defaults.admin)
    record = await h.fake.wait_for_interaction_response(iid, timeout=10)
    assert record.rejected == []
    return record


async def final_text(h: Harness, record: InteractionRecord) -> str:
    """The answer's text: the direct reply, or the follow-up of a deferred command."""
    if record.response_type == 4:
        data = record.response_data
        assert int(data.get("flags", 0)) & EPHEMERAL
        return str(data.get("content") or "") + "".join(
            str(e.get("title", ""))
            + str(e.get("description", ""))
            + "".join(f["name"] + f["value"] for f in e.get("fields", []))
            for e in data.get("embeds", [])
        )
    assert record.response_type == 5 and record.response_data["flags"] & EPHEMERAL
    await h.fake.wait_for(lambda: bool(record.followup_ids), timeout=20)
    return h.fake.message(record.followup_ids[-1]).content


async def feed_row(h: Harness, name: str) -> feed_store.FeedRow | None:
    assert h.bot is not None
    row: feed_store.FeedRow | None = await h.bot.run_db(
        feed_store.get_feed_by_name, name, h.fake.defaults.guild.id
    )
    return row


async def test_admin_commands_sync_as_admin_only_guild_commands(bot_harness: Harness) -> None:
    await start(bot_harness)
    synced = bot_harness.fake.synced_commands()
    assert synced is not None
    feeds = next(c for c in synced if c["name"] == "feeds")
    assert int(feeds["default_member_permissions"]) == 1 << 5  # MANAGE_GUILD
    assert feeds.get("dm_permission") is False or feeds.get("contexts") == [0]
    assert {o["name"] for o in feeds["options"]} == {
        "add",
        "list",
        "remove",
        "refresh",
        "settings",
        "status",
    }


async def test_add_tests_the_feed_reports_it_and_starts_silently(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    record = await run(
        h, "feeds add", {"url": h.feeds.url, "channel": h.fake.defaults.seminars, "name": "talks"}
    )
    text = await final_text(h, record)
    assert "Found **Department of Computer Science** (the link itself)" in text
    assert "Upcoming events: **2**" in text and "Next: **Compilers**" in text
    assert "Added as **talks**" in text and "silently" in text
    row = await feed_row(h, "talks")
    assert row is not None and row.settings["source"] == "discord" and row.baseline_done
    assert row.channel_id == h.fake.defaults.seminars.id
    assert h.bot is not None and h.bot.scheduler is not None
    assert h.bot.scheduler.next_run(row.id) is not None
    # Silent baseline: nothing posted for the new feed.
    await h.deliver()
    assert h.fake.messages(h.fake.defaults.seminars) == []
    # The same name again is refused; nothing changes.
    again = await run(
        h, "feeds add", {"url": h.feeds.url, "channel": h.fake.defaults.seminars, "name": "talks"}
    )
    assert "already has a feed called **talks**" in await final_text(h, again)


async def test_add_with_announce_posts_the_window(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    record = await run(
        h,
        "feeds add",
        {
            "url": h.feeds.url,
            "channel": h.fake.defaults.seminars,
            "name": "talks",
            "announce": True,
        },
    )
    assert "announcing" in await final_text(h, record)
    messages = await h.fake.wait_for_messages(h.fake.defaults.seminars, 1)
    assert messages[0].embeds[0]["title"] == "Compilers"


async def test_add_finds_the_calendar_an_events_page_advertises(
    bot_harness: Harness, site: Site
) -> None:
    h = bot_harness
    site.html = (
        '<html><head><link rel="alternate" type="text/calendar" href="/cal.ics"></head></html>'
    )
    await start(h, site.port)
    record = await run(
        h,
        "feeds add",
        {"url": site.url("/events/"), "channel": h.fake.defaults.seminars, "name": "page"},
    )
    text = await final_text(h, record)
    assert "the calendar link the page advertises" in text
    row = await feed_row(h, "page")
    assert row is not None and row.url == site.url("/cal.ics")


async def test_add_reports_a_page_without_a_calendar(bot_harness: Harness, site: Site) -> None:
    h = bot_harness
    site.html = "<html><body>Just a page</body></html>"
    await start(h, site.port)
    record = await run(
        h,
        "feeds add",
        {"url": site.url("/events/"), "channel": h.fake.defaults.seminars, "name": "page"},
    )
    assert "does not point to a calendar feed" in await final_text(h, record)
    assert await feed_row(h, "page") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://example.edu/cal.ics", "Only http://, https:// and webcal://"),
        ("http://10.1.2.3/cal.ics", "forbidden_address"),
        ("https://user:pw@example.edu/cal.ics", "user name or password"),
    ],
)
async def test_add_refuses_bad_and_internal_urls_and_saves_nothing(
    bot_harness: Harness, url: str, expected: str
) -> None:
    h = bot_harness
    await h.start()
    record = await run(
        h, "feeds add", {"url": url, "channel": h.fake.defaults.seminars, "name": "bad"}
    )
    assert expected in await final_text(h, record)
    assert await feed_row(h, "bad") is None


async def test_untrusted_loopback_feed_is_refused_by_the_ssrf_guard(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()  # the default fetcher: no loopback exemption
    record = await run(
        h, "feeds add", {"url": h.feeds.url, "channel": h.fake.defaults.seminars, "name": "loop"}
    )
    text = await final_text(h, record)
    assert "could not use that link" in text
    assert await feed_row(h, "loop") is None and h.feeds.hits == 0


async def test_add_checks_the_channel_before_fetching_or_saving(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    record = await run(
        h, "feeds add", {"url": h.feeds.url, "channel": h.fake.defaults.readonly, "name": "ro"}
    )
    text = await final_text(h, record)
    assert "I cannot post in" in text and "Send Messages" in text
    assert await feed_row(h, "ro") is None and h.feeds.hits == 0


async def test_add_refuses_a_bad_name(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    record = await run(
        h,
        "feeds add",
        {"url": h.feeds.url, "channel": h.fake.defaults.seminars, "name": "Bad Name!"},
    )
    assert "lower-case letters" in await final_text(h, record)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("feeds add", {"url": "https://example.edu/cal.ics", "channel": None}),
        ("feeds list", {}),
        ("feeds status", {}),
        ("feeds remove", {"feed": "cs-seminar"}),
        ("feeds refresh", {"feed": "cs-seminar"}),
        ("feeds settings", {"feed": "cs-seminar", "paused": True}),
    ],
)
async def test_members_cannot_use_admin_commands(
    bot_harness: Harness, name: str, options: dict[str, Any]
) -> None:
    h = bot_harness
    await start(h)
    if "channel" in options:
        options["channel"] = h.fake.defaults.seminars
    record = await run(h, name, options, user=h.fake.defaults.member)
    assert "Only server admins" in record.response_data["content"]
    assert record.response_data["flags"] & EPHEMERAL
    row = await feed_row(h, "cs-seminar")
    assert row is not None and row.status == "active" and h.feeds.hits == 0


async def test_list_status_and_refresh(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    await h.poll()
    listed = await final_text(h, await run(h, "feeds list"))
    assert "cs-seminar" in listed and "active" in listed
    refreshed = await final_text(h, await run(h, "feeds refresh", {"feed": "cs-seminar"}))
    assert "Polled **cs-seminar**" in refreshed or "has not changed" in refreshed
    h.feeds.status = 500
    failed = await final_text(h, await run(h, "feeds refresh", {"feed": "cs-seminar"}))
    assert "failed (http_error)" in failed
    status = await final_text(h, await run(h, "feeds status", {"feed": "cs-seminar"}))
    assert "Consecutive failures1" in status
    assert "Events stored2 (2 upcoming)" in status
    assert "Last errorhttp_error" in status
    unknown = await final_text(h, await run(h, "feeds status", {"feed": "nope"}))
    assert "no feed called **nope**" in unknown


async def test_feed_autocomplete_for_admins(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    iid = h.fake.inject_autocomplete(
        "feeds status", {"feed": "cs"}, "feed", user=h.fake.defaults.admin
    )
    record = await h.fake.wait_for_interaction_response(iid)
    assert record.response_data["choices"] == [{"name": "cs-seminar", "value": "cs-seminar"}]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"announce_window": "15x"}, "`announce_window`:"),
        ({"announce_window": "200d"}, "must be between 1m and"),
        ({"reminders": "1d, 15x"}, "`reminders`:"),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone"),
        ({}, "Nothing to change"),
        ({"enabled": False}, "paused:True"),
        (
            {"summary_pattern": "(?P<speaker>"},
            "`summary_pattern` is not a valid regular expression",
        ),
        ({"description_pattern": "(?P<who>.+)"}, "unknown group name(s) who"),
        (
            {"title_template": "{series}: {who}"},
            "`title_template`: unknown field {who}; the fields are title, speaker,",
        ),
        (
            {"lead_template": "{title.__class__}"},
            "`lead_template`: unknown field {title.__class__}",
        ),
        ({"lead_template": "{title"}, "`lead_template`: a '{' is not closed"),
    ],
)
async def test_settings_validate_everything_and_save_nothing_on_error(
    bot_harness: Harness, options: dict[str, Any], expected: str
) -> None:
    h = bot_harness
    await start(h)
    before = await feed_row(h, "cs-seminar")
    record = await run(h, "feeds settings", {"feed": "cs-seminar", **options})
    assert expected in record.response_data["content"]
    assert await feed_row(h, "cs-seminar") == before


async def test_settings_change_channel_filters_role_and_pause(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    d = h.fake.defaults
    refused = await run(h, "feeds settings", {"feed": "cs-seminar", "channel": d.readonly})
    assert "I cannot post in" in refused.response_data["content"]
    record = await run(
        h,
        "feeds settings",
        {
            "feed": "cs-seminar",
            "announce_window": "3d",
            "include": "seminar, colloquium",
            "reminders": "2h 10m",
            "timezone": "Europe/Paris",
            "mention_role": d.seminar_role,
        },
    )
    text = record.response_data["content"]
    assert "Announce window: 3d" in text and "Include: seminar, colloquium" in text
    assert "Reminders: 2h, 10m" in text and "Europe/Paris" in text
    row = await feed_row(h, "cs-seminar")
    assert row is not None and row.settings["mention_role_id"] == d.seminar_role.id
    paused = await run(h, "feeds settings", {"feed": "cs-seminar", "paused": True})
    assert "is paused" in paused.response_data["content"]
    assert h.bot is not None and h.bot.scheduler is not None
    row = await feed_row(h, "cs-seminar")
    assert row is not None and row.status == "paused" and h.bot.scheduler.next_run(row.id) is None
    resumed = await run(h, "feeds settings", {"feed": "cs-seminar", "paused": False})
    assert "is active" in resumed.response_data["content"]


async def test_settings_store_and_show_a_seminar_pattern_and_clear_it(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    pattern = r"^(?P<title>.+?) \| (?P<speaker>.+)$"
    record = await run(h, "feeds settings", {"feed": "cs-seminar", "summary_pattern": pattern})
    assert f"Seminar pattern (SUMMARY): `{pattern}`" in record.response_data["content"]
    row = await feed_row(h, "cs-seminar")
    assert row is not None and row.settings["seminar_summary_pattern"] == pattern
    cleared = await run(h, "feeds settings", {"feed": "cs-seminar", "summary_pattern": "-"})
    assert "Seminar pattern" not in cleared.response_data["content"]


async def test_settings_store_and_preview_card_templates_and_clear_them(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await start(h)
    await h.poll()
    options = {
        "feed": "cs-seminar",
        "title_template": "{speaker} — {title} ({feed})",
        "lead_template": "{speaker}, {place}",
    }
    text = (await run(h, "feeds settings", options)).response_data["content"]
    # With a made-up talk, and with the feed's next stored talk.
    assert "Ada Lovelace — Proofs that run (cs-seminar)" in text
    assert "On the next talk: **Grace Hopper — Compilers (cs-seminar)**" in text
    assert "\nGrace Hopper, Hackerman Hall B-17" in text
    row = await feed_row(h, "cs-seminar")
    assert row is not None and row.settings["title_template"] == options["title_template"]
    assert row.settings["lead_template"] == options["lead_template"]
    cleared = await run(
        h, "feeds settings", {"feed": "cs-seminar", "title_template": "-", "lead_template": "-"}
    )
    assert "template" not in cleared.response_data["content"]
    row = await feed_row(h, "cs-seminar")
    assert row is not None and row.settings["title_template"] == ""


async def test_settings_re_enable_a_disabled_feed(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    assert h.bot is not None

    feed_id = await h.feed_id()
    await h.bot.run_db(feed_store.disable_feed, feed_id, reason="failing", now=NOW)
    refused = await final_text(h, await run(h, "feeds refresh", {"feed": "cs-seminar"}))
    assert "is disabled (failing)" in refused
    record = await run(h, "feeds settings", {"feed": "cs-seminar", "enabled": True})
    assert "Re-enabled" in record.response_data["content"]
    row = await feed_row(h, "cs-seminar")
    assert row is not None and row.status == "active" and row.fail_count == 0


async def test_remove_discord_feeds_but_not_config_feeds(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    refused = await run(h, "feeds remove", {"feed": "cs-seminar"})
    assert "configuration file" in refused.response_data["content"]
    await final_text(
        h,
        await run(
            h,
            "feeds add",
            {"url": h.feeds.url, "channel": h.fake.defaults.seminars, "name": "talks"},
        ),
    )
    row = await feed_row(h, "talks")
    assert row is not None
    removed = await run(h, "feeds remove", {"feed": "talks"})
    assert "Removed **talks**" in removed.response_data["content"]
    assert await feed_row(h, "talks") is None
    assert (
        h.bot is not None
        and h.bot.scheduler is not None
        and h.bot.scheduler.next_run(row.id) is None
    )


async def test_status_of_many_failing_feeds_fits_one_answer(bot_harness: Harness) -> None:
    h = bot_harness
    await start(h)
    assert h.bot is not None
    guild, channel = h.fake.defaults.guild.id, h.fake.defaults.seminars.id
    for i in range(10):
        row = await h.bot.run_db(
            lambda db, i=i: feed_store.upsert_feed(
                db, name=f"feed-{i}", url=f"https://example.edu/{i}.ics", guild_id=guild,
                channel_id=channel, now=NOW,
            )
        )  # fmt: skip
        await h.bot.run_db(
            event_store.record_poll_failure, row.id, now=NOW, reason="http_error",
            message="The server answered 500: " + "x" * 1000, next_poll_at=None,
        )  # fmt: skip
    record = await run(h, "feeds status")  # ten embeds of ~1,100 characters: 6,000 is the cap
    embeds = record.response_data["embeds"]
    assert len(embeds) == 10
    total = sum(
        len(e.get("title", "")) + len(e.get("description", "")) + len(e["footer"]["text"])
        + sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", []))
        for e in embeds
    )  # fmt: skip
    assert total <= 6000
    assert all(
        e["title"].startswith("feed-") or e["title"].startswith("cs-seminar") for e in embeds
    )
