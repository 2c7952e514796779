"""Reminder benchmarks: planning cost for 10,000 subscriptions, and delivery lateness for 1,000
reminders due in the same minute through the real bot and the fake Discord.

Run: ``python -m bench.reminders_bench [--rate 45] [--subscribers 1000] [--cold-dm]``. The bot
runs with its one shared pacer at ``--rate`` against a fake Discord that enforces the global
limit (50/s) and per-channel buckets. Members subscribed two days ahead; in the hour before,
the worker checks their membership at background priority; then the clock runs at wall speed
from 35 s before the due time and the worker sends on its own schedule (a large batch starts
early). Lateness is signed: negative is early. Members' DM channels are opened ahead, as
their "Remind me" click does; ``--cold-dm`` leaves them unopened, so each first DM also opens
its channel at the due time. Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord.gateway
import discord.http
import yarl
from aiohttp import web

from bench.feedgen import Talk, render_feed
from bot.core.diff import announcement_id_for
from bot.core.models import OccurrenceKey
from bot.service.reminders import plan_feed_reminders
from bot.service.subscriptions import remember_dm_channel
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import reminders as reminder_store
from bot.store.db import open_database, write_transaction
from bot.store.reminders import ReminderRow

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- planning -------------------------------------------------------------------------------


def _seed_events(db: Any, feed_id: int, talks: list[Talk], *, shift: timedelta) -> list[str]:
    """Write events straight into the store (as a poll would), returning announcement ids."""
    from bot.core.diff import EventState, StoredEvent
    from bot.core.fingerprint import fingerprint
    from bot.core.models import Occurrence, SeminarDetails

    events = []
    ids = []
    for talk in talks:
        occ = Occurrence(
            key=OccurrenceKey(f"talk-{talk.post_id}@bench"),
            start=(talk.start + shift).astimezone(UTC),
            end=(talk.end + shift).astimezone(UTC),
            timezone="America/New_York",
            summary=f"{talk.series}: {talk.speaker}",
            location=talk.room,
            seminar=SeminarDetails(series=talk.series, speaker=talk.speaker, title=talk.title),
        )
        aid = announcement_id_for("bench", OccurrenceKey(f"talk-{talk.post_id}@bench"), NOW)
        ids.append(aid)
        events.append(
            StoredEvent(
                occurrence=occ,
                fingerprint=fingerprint(occ),
                state=EventState.ANNOUNCED,
                first_seen=NOW,
                last_seen=NOW,
                announcement_id=aid,
            )
        )
    with write_transaction(db):
        event_store._upsert_events(db, feed_id, tuple(events))
    return ids


def bench_planning(subscriptions: int = 10_000, events: int = 60) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.db")
        feed = feed_store.upsert_feed(
            db, name="bench", url="https://example.edu/ics", guild_id=1, channel_id=10, now=NOW
        )
        speakers = [f"Speaker {i}" for i in range(40)]
        talks = [
            Talk(
                post_id=i,
                start=NOW + timedelta(days=1 + i % 13, hours=i % 7),
                speaker=speakers[i % len(speakers)],
                title=f"Talk {i}",
            )
            for i in range(events)
        ]
        ids = _seed_events(db, feed.id, talks, shift=timedelta(0))
        stamp = NOW.isoformat()
        rows = []
        for n in range(subscriptions):
            if n % 5 == 0:  # a fifth follow a speaker, the rest one event each
                rows.append([1, n, "filter", None, "", "speaker", speakers[n % 40], 3600, "dm"])
            else:
                rows.append([1, n, "event", feed.id, ids[n % len(ids)], "", "", 900, "dm"])
        with write_transaction(db):
            db.conn.executemany(
                "INSERT INTO subscriptions (guild_id, user_id, kind, feed_id, announcement_id,"
                " field, pattern, offset_s, via, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[*r, stamp, stamp] for r in rows],
            )
        t0 = time.perf_counter()
        first = plan_feed_reminders(db, feed.id, now=NOW)
        t1 = time.perf_counter()
        idle = plan_feed_reminders(db, feed.id, now=NOW)
        t2 = time.perf_counter()
        # A feed update: every third talk moves by two hours.
        moved = [t for i, t in enumerate(talks) if i % 3 == 0]
        _seed_events(db, feed.id, moved, shift=timedelta(hours=2))
        t3 = time.perf_counter()
        update = plan_feed_reminders(db, feed.id, now=NOW)
        t4 = time.perf_counter()
        total = db.conn.execute("SELECT COUNT(*) FROM reminders").fetchone()[0]
        db.close()
    print(f"reminders_subscriptions: {subscriptions} count")
    print(f"reminders_rows: {total} count")
    print(f"reminders_plan_first_10k: {(t1 - t0) * 1000:.1f} ms ({first.inserted} inserted)")
    print(f"reminders_plan_unchanged_10k: {(t2 - t1) * 1000:.1f} ms ({idle.changed} changes)")
    print(
        f"reminders_replan_after_update_10k: {(t4 - t3) * 1000:.1f} ms "
        f"({update.updated} moved, {update.notices} change DMs queued)"
    )


# --- delivery lateness ----------------------------------------------------------------------


class BenchClock:
    """Stands still while the world is set up, then runs at wall-clock speed from a chosen
    instant, so the worker's early start and the lateness share one time line."""

    def __init__(self, now: datetime) -> None:
        self._base = now
        self._started: float | None = None

    def now(self) -> datetime:
        if self._started is None:
            return self._base
        return self._base + timedelta(seconds=time.monotonic() - self._started)

    def set(self, now: datetime) -> None:
        self._base, self._started = now, None

    def run_from(self, now: datetime) -> None:
        self._base, self._started = now, time.monotonic()


class Spread:
    """Signed lateness of each DM against its due time (negative: early)."""

    def __init__(self, clock: BenchClock) -> None:
        self._clock = clock
        self.seconds: list[float] = []
        self.all_sent = asyncio.Event()
        self.expected = 0

    def on_sent(self, row: ReminderRow) -> None:
        self.seconds.append((self._clock.now() - row.due_at).total_seconds())
        if len(self.seconds) >= self.expected:
            self.all_sent.set()


def _requests_since(fake: Any, mark: int) -> tuple[int, int, int]:
    """(DMs sent, membership checks, all requests) the fake saw since ``mark``."""
    seen = fake.requests[mark:]
    posts = sum(1 for r in seen if r.method == "POST" and r.path.endswith("/messages"))
    checks = sum(1 for r in seen if "/members/" in r.path)
    return posts, checks, len(seen)


async def bench_lateness(subscribers: int, rate: float, *, dm_ahead: bool = True) -> None:
    from bot.config import parse_config
    from bot.discord_ui.client import SeminarBot
    from tests.fakediscord import FakeDiscord
    from tests.fakediscord.state import FakeMember, FakeUser

    fake = FakeDiscord()
    await fake.start()
    discord.http.Route.BASE = fake.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    fake.enable_channel_rate_limit(limit=5, per=5.0)
    talk = Talk(post_id=1, start=NOW + timedelta(days=2), title="Popular talk")
    due = talk.start.astimezone(UTC) - timedelta(minutes=15)
    body = render_feed([talk])

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/calendar")

    app = web.Application()
    app.router.add_get("/events/", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    d = fake.defaults
    users = []
    for i in range(subscribers):
        user = FakeUser(800_000_000_000 + i, f"student{i}")
        fake.users[user.id] = user
        d.guild.members.append(FakeMember(user))
        users.append(user)
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            f"""
[storage]
path = "{Path(tmp) / "bot.db"}"
[discord]
api_base_url = "{fake.api_base_url}"
gateway_url = "{fake.gateway_url}"
requests_per_second = {rate:g}
[[feeds]]
name = "cs-seminar"
url = "http://127.0.0.1:{port}/events/?ical=1"
channel_id = {d.seminars.id}
guild_id = {d.guild.id}
baseline = "announce"
reminder_offsets = ["15m"]
""",
            source=Path(tmp) / "config.toml",
        )
        clock = BenchClock(NOW)
        bot = SeminarBot(config, clock=clock, schedule_polls=False, guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start(fake.token))
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        try:
            feed = await bot.run_db(feed_store.get_feed_by_name, "cs-seminar", d.guild.id)
            await bot.poll_feed(feed.id, force=True)
            (event,) = await bot.run_db(event_store.remindable_events, feed.id, since=NOW)
            aid = event.announcement_id
            stamp = NOW.isoformat()

            def subscribe_all(db: Any) -> None:
                with write_transaction(db):
                    db.conn.executemany(
                        "INSERT INTO subscriptions (guild_id, user_id, kind, feed_id,"
                        " announcement_id, offset_s, via, created_at, updated_at)"
                        " VALUES (?, ?, 'event', ?, ?, ?, 'dm', ?, ?)",
                        # All due at the same instant (the worst burst within one minute).
                        [[d.guild.id, u.id, feed.id, aid, 900, stamp, stamp] for u in users],
                    )
                    db.conn.executemany(
                        "INSERT INTO reminder_users (user_id, member_seen_at) VALUES (?, ?)",
                        [[u.id, stamp] for u in users],
                    )

            await bot.run_db(subscribe_all)
            if dm_ahead:
                # What each member's click leaves behind: their DM channel, opened and stored.
                for u in users:
                    data = await bot.http.start_private_message(u.id)
                    await bot.run_db(remember_dm_channel, u.id, int(data["id"]), now=NOW)
            worker = bot.reminders
            assert worker is not None
            await worker.plan_feed(feed.id)

            # Two days after they subscribed, in the hour before: memberships checked ahead,
            # at background priority.
            clock.set(due - timedelta(minutes=50))
            # From here on, Discord's global limit (the clicks above were spread over days).
            fake.enable_global_rate_limit(50)
            mark = len(fake.requests)
            checked_ahead = await worker.check_memberships_ahead()
            _, ahead_checks, _ = _requests_since(fake, mark)

            # The due minute, on the worker's own schedule (it starts a large batch early).
            spread = Spread(clock)
            spread.expected = subscribers
            worker.on_sent = spread.on_sent
            mark = len(fake.requests)
            limited_before = fake.rate_limited_count
            clock.run_from(due - timedelta(seconds=35))
            wall0 = time.monotonic()
            worker.wake()
            await asyncio.wait_for(spread.all_sent.wait(), 35 + 4 * subscribers / rate + 60)
            elapsed = time.monotonic() - wall0
            await worker.run_due()  # waits for the pass to record its last sends
            posts, due_checks, due_requests = _requests_since(fake, mark)
            limited = fake.rate_limited_count - limited_before
            sent = [
                r
                for r in await bot.run_db(reminder_store.list_reminders)
                if r.target_kind == "dm" and r.state == "sent"
            ]
        finally:
            await bot.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    await runner.cleanup()
    await fake.stop()
    lateness = spread.seconds
    print(f"reminders_rest_budget: {rate:g} req/s (one pacer for all REST traffic)")
    print(f"reminders_dm_opened_ahead: {'yes' if dm_ahead else 'no'}")
    print(f"reminders_membership_checked_ahead: {checked_ahead} members ({ahead_checks} requests)")
    print(f"reminders_sent: {len(sent)} count")
    print(f"reminders_due_window: {elapsed:.2f} s (wall time from 35 s before due to the last DM)")
    print(f"reminders_early_max: {max(0.0, -min(lateness)):.2f} s")
    print(f"reminders_lateness_p50: {statistics.median(lateness):.2f} s")
    print(f"reminders_lateness_p99: {_percentile(lateness, 0.99):.2f} s")
    print(f"reminders_lateness_max: {max(lateness):.2f} s")
    print(f"reminders_requests_per_dm: {due_requests / max(1, posts):.2f} ({due_checks} checks)")
    print(f"reminders_rate_limited: {limited} count ({fake.rate_limited_count} in the run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument(
        "--rate", type=float, default=45.0, help="the bot's REST budget, requests per second"
    )
    parser.add_argument(
        "--cold-dm",
        action="store_true",
        help="members' DM channels not opened ahead (as before the bot opened them at a click)",
    )
    args = parser.parse_args()
    bench_planning(args.subscriptions)
    asyncio.run(bench_lateness(args.subscribers, args.rate, dm_ahead=not args.cold_dm))


if __name__ == "__main__":
    main()
