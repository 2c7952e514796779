"""``python -m bench.fleet``: one real bot process carrying a fleet of feeds and servers.

What runs, all on 127.0.0.1:

* **The bot**, as its own process (``bench.fleet_bot``): ``seminar-bot run``'s code path
  (config file, ``bot.app.serve``, the real discord.py client, scheduler, poller, shared
  fetcher, parser pool, delivery and reminder workers, SQLite with ``synchronous=FULL``), plus
  a 50 ms event-loop probe. Its CPU and memory are read from /proc, for it and its parser
  workers.
* **The fake Discord** (``tests.fakediscord``) and **the calendar host**
  (``bench.fleet_feeds``, 200 loopback addresses on one port) in this process, so their CPU
  is not the bot's. The fake has one guild per server with one channel, real per-channel
  message buckets (5 per 5 s, 429 only if the bot ignores the headers), and validates every
  payload as in the tests. It does not enforce Discord's global budget (50 requests a
  second), so the bench prints the busiest second for comparison with it.

The fleet (``--full``): 1,000 feeds of 30 events on 500 servers (two feeds per server, both
posting to its channel); 50 of those servers follow the same URL; 10 feeds hang past the
bot's 30 s fetch timeout; 100,000 subscriptions seeded into SQLite before start (100 per
feed, through the store's ``add_subscription``), one per feed due during the run (DM for
even feeds, a mention in the channel for odd ones), plus the feeds' own 15-minute channel
reminder of the same talk. Feed bodies change per cycle as ``bench.fleet_feeds`` describes
(304s, unchanged bodies, DTSTAMP churn, new talks, edits).

Time: everything runs in **real time**, on the system clock, in the bot and here; nothing
uses an injected clock, because the event loop, the scheduler's spread and the delivery
pacing are what is measured. Time is compressed only by the poll interval: 60 s (the
shortest the bot accepts) stands for a 5-minute interval, the one a fleet is sized for, so
each cycle does a 5-minute cycle's work in a fifth of the time. Per-cycle figures (CPU s per cycle, fetches
per interval, gaps in periods, deliveries) are the same at either interval; the share of a
core is printed as measured at 60 s and as it would be at 300 s (the same per-cycle CPU
spread over five times as long; the bot's idle cost, included in the per-cycle CPU, is
counted once per cycle and so slightly under-counted there). Delivery lateness and Discord's
request rates are those of the compressed run, which is the harder case.

Measurement window: the bot is started, catches up (every feed is due at once: the
scheduler spreads them over a minute, and each first poll parses the whole feed, stores its
baseline and plans its reminders), and then ``--cycles`` periods are measured; the polls
during start-up are reported on their own line. Poll start lateness is the arrival of a
feed's request at the calendar host against the feed's slot (so it includes the database
reads before the request and the request's own latency); gaps are between those arrivals,
and up to the window's end; the shared URL's fetches are counted per period. Announcement lateness runs from the outbox row's ``created_at``
(written in the poll's transaction) to the message's arrival at the fake (its snowflake
time, or the edit's request); reminder lateness from ``due_at`` to the message's arrival.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.fleet_feeds import SHARED, FleetFeeds, host_of
from bench.fleet_metrics import (
    ProcessWatch,
    deliveries,
    feed_ids_by_url,
    percentile,
    request_rates,
)
from bench.fleet_world import FleetLayout, build_world, seed_database, write_config
from bot.core.poll_slots import nearest_slot
from tests.fakediscord import FakeDiscord
from tests.fakediscord.records import RequestRecord

PERIOD = 60.0
#: Start-up plus the catch-up (every feed due at once: spread over a minute, then the first
#: full parse, baseline and reminder planning of each) before the measured cycles start.
CATCH_UP_SECONDS = 90.0
#: Reminders of the first talks come due from this long after launch, one feed a step apart.
REMINDERS_FROM_SECONDS = 90.0
#: After the window, how long deliveries of its last polls and reminders may still take.
DRAIN_SECONDS = 10.0
TOKEN = "fleet-bench-token-not-a-secret"


@dataclass(frozen=True)
class Fleet:
    feeds: int
    servers: int
    shared: int
    hanging: int
    subscriptions: int
    cycles: int
    #: Calendar hosts (loopback addresses) the feeds are spread over, round robin.
    hosts: int


FULL = Fleet(
    feeds=1000, servers=500, shared=50, hanging=10, subscriptions=100_000, cycles=3, hosts=200
)
QUICK = Fleet(feeds=40, servers=20, shared=5, hanging=2, subscriptions=400, cycles=1, hosts=8)


def _url(feeds: FleetFeeds, fleet: Fleet, port: int, index: int) -> str:
    """Feed ``index``'s URL: the shared one on 127.0.0.1, the others on their own host."""
    shared = index < fleet.shared
    host = "127.0.0.1" if shared else host_of(index % fleet.hosts)
    return f"http://{host}:{port}{feeds.path_of(index, shared=shared)}"


def _bot_output(
    report: Path, log_path: Path, keep: Path | None
) -> tuple[dict[str, Any], list[str]]:
    """The probe's report and the bot's log lines (copied to ``keep`` if asked)."""
    probe = json.loads(report.read_text()) if report.exists() else {"late": [], "worst": []}
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    if keep is not None:
        keep.write_text(log_text, encoding="utf-8")
    return probe, log_text.splitlines()


def _emptied_buckets(records: list[RequestRecord], limit: int, per: float) -> tuple[int, float]:
    """How often a channel's message bucket was used up, and the seconds the requests that
    followed had to wait for its reset (the bot waits inline: discord.py honours the headers)."""
    by_channel: dict[str, list[float]] = {}
    for record in records:
        if record.method == "POST" and re.fullmatch(r"/channels/\d+/messages", record.path):
            by_channel.setdefault(record.path, []).append(record.at)
    emptied, waited = 0, 0.0
    for times in by_channel.values():
        start, used = -math.inf, 0
        for moment in sorted(times):
            if moment - start >= per:
                if used >= limit:
                    waited += max(0.0, moment - start - per)
                start, used = moment, 0
            used += 1
            if used == limit:
                emptied += 1
    return emptied, waited


def _busiest_second(
    records: list[RequestRecord], dm_channels: set[int]
) -> tuple[float, dict[str, int]]:
    """When Discord saw the most requests in one second, and what they were."""
    ordered = sorted(records, key=lambda r: r.at)
    best, best_start, start = 0, 0, 0
    for end, record in enumerate(ordered):
        while record.at - ordered[start].at >= 1.0:
            start += 1
        if end - start + 1 > best:
            best, best_start = end - start + 1, start
    kinds: dict[str, int] = {}
    for record in ordered[best_start : best_start + best]:
        route = re.sub(r"\d{5,}", "{id}", f"{record.method} {record.path}")
        target = re.match(r"/channels/(\d+)/", record.path)
        if target is not None:
            route += " (DM)" if int(target.group(1)) in dm_channels else " (server)"
        kinds[route] = kinds.get(route, 0) + 1
    return (ordered[best_start].at if ordered else 0.0), kinds


async def run(fleet: Fleet, keep_log: Path | None = None) -> int:
    began = time.time()
    load_before = os.getloadavg()[0]
    period = timedelta(seconds=PERIOD)
    hanging = set(range(fleet.shared, fleet.shared + fleet.hanging))
    window_s = fleet.cycles * PERIOD
    due_step = max(0.05, (CATCH_UP_SECONDS + window_s - REMINDERS_FROM_SECONDS) / fleet.feeds)
    feeds = FleetFeeds(period=PERIOD, hanging=hanging)
    layout = FleetLayout(fleet.feeds, fleet.servers, fleet.shared, fleet.subscriptions)
    fake = FakeDiscord(token=TOKEN, default_world=False)
    fake.enable_channel_rate_limit(5, 5.0)
    build_world(fake, layout)
    await fake.start()
    runner, port = await feeds.start(fleet.hosts)
    with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
        workdir = Path(tmp)
        config = write_config(
            workdir / "config.toml",
            fake,
            layout,
            [_url(feeds, fleet, port, i) for i in range(fleet.feeds)],
            period,
        )
        seeded = seed_database(config, fake, layout, datetime.now(UTC))
        seeded_at = time.time()
        report = workdir / "probe.json"
        log_path = workdir / "bot.log"
        env = {**os.environ, "DISCORD_TOKEN": TOKEN}
        with open(log_path, "wb") as log_file:  # noqa: ASYNC230 - before the bot starts
            bot = subprocess.Popen(  # noqa: ASYNC220 - a Popen handle is what /proc needs
                [sys.executable, "-m", "bench.fleet_bot", str(config), str(report)],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            watch = ProcessWatch(bot.pid)
            stop_watch = asyncio.Event()
            watcher = asyncio.create_task(watch.run(stop_watch))
            launched_real = time.time()
            watch.mark("launch", launched_real)
            # Feed bodies are made on request, so their cycles and talk times count from here.
            feeds.begin(
                launched_real,
                {
                    i: datetime.fromtimestamp(
                        launched_real + REMINDERS_FROM_SECONDS + i * due_step, UTC
                    )
                    for i in range(-1, fleet.feeds)
                },
            )
            await fake.wait_for(lambda: fake.gateway.ready, timeout=120)
            ready_at = time.time()
            await asyncio.sleep(max(0.0, launched_real + CATCH_UP_SECONDS - time.time()))
            window_start = time.time()
            watch.mark("window", window_start)
            await asyncio.sleep(window_s)
            window_end = time.time()
            watch.mark("end", window_end)
            watch.sample()
            await asyncio.sleep(DRAIN_SECONDS)
            watch.sample()
            stop_watch.set()
            await watcher
            bot.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(bot.wait, 30)
        db_path = workdir / "fleet.db"
        ids = feed_ids_by_url(db_path)
        delivered = deliveries(db_path, fake, since=launched_real, until=window_end)
        probe, log_lines = _bot_output(report, log_path, keep_log)
        stalls: list[float] = probe["late"]
    await runner.cleanup()
    await fake.stop()
    took = time.time() - began

    # --- polls --------------------------------------------------------------------------
    lateness: list[float] = []
    startup_lateness: list[float] = []
    late_by_time: dict[int, int] = {}
    gaps: list[float] = []
    skipped = 0
    for index in range(fleet.shared, fleet.feeds):
        if index in hanging:
            continue
        (feed_id,) = ids[_url(feeds, fleet, port, index)]
        arrivals = feeds.arrivals.get(index, [])
        for moment in arrivals[1:]:
            at = datetime.fromtimestamp(moment, UTC)
            late = (at - nearest_slot(at, feed_id, period)).total_seconds()
            if moment < window_start:
                startup_lateness.append(late)
            else:
                lateness.append(late)
                if late > 5.0:
                    bucket = int((moment - launched_real) // 15 * 15)
                    late_by_time[bucket] = late_by_time.get(bucket, 0) + 1
        marks = [t for t in arrivals if t >= window_start - PERIOD]
        points = [*(marks or [window_start - PERIOD]), window_end]
        for a, b in itertools.pairwise(points):
            if b > window_start:
                gaps.append((b - a) / PERIOD)
                skipped += max(0, round((b - a) / PERIOD) - 1)
    shared_fetches = feeds.arrivals.get(SHARED, [])
    per_interval = [
        sum(
            1
            for t in shared_fetches
            if window_start + k * PERIOD <= t < window_start + (k + 1) * PERIOD
        )
        for k in range(fleet.cycles)
    ]

    # --- the bot's process and Discord ---------------------------------------------------
    cpu_window = watch.marks["end"][1] - watch.marks["window"][1]
    cpu_start = watch.marks["window"][1] - watch.marks["launch"][1]
    per_cycle = cpu_window / fleet.cycles
    rest = [r for r in fake.requests if launched_real <= r.at]
    window_requests = [r.at for r in rest if window_start <= r.at < window_end + DRAIN_SECONDS]
    mean_rps, peak_rps = request_rates(window_requests)
    all_mean, all_peak = request_rates([r.at for r in rest])
    too_many = sum(1 for r in rest if r.status == 429)
    warnings = sum(1 for line in log_lines if " WARNING " in line or " ERROR " in line)

    def ms(values: list[float], share: float) -> str:
        return f"{percentile(values, share) * 1000:.0f} ms"

    print(
        f"fleet: {fleet.feeds} feeds x 30 events on {fleet.servers} servers "
        f"({fleet.shared} follow one URL, {fleet.hanging} hang past the fetch timeout), "
        f"{seeded:,} subscriptions; period {PERIOD:g} s standing for 300 s; "
        f"{fleet.cycles} measured cycles after a {CATCH_UP_SECONDS:g} s start-up/catch-up"
    )
    print(
        f"timeline: seeded in {seeded_at - began:.0f} s, READY {ready_at - launched_real:.1f} s "
        f"after launch; bot exit code {code}; bench took {took:.0f} s in all"
    )
    print(
        f"CPU (bot + parser workers): {per_cycle:.2f} s per cycle = "
        f"{per_cycle / PERIOD * 100:.1f} % of one core at {PERIOD:g} s, "
        f"{per_cycle / 300 * 100:.1f} % at 300 s; start-up and catch-up {cpu_start:.1f} s"
    )
    print(
        f"peak RSS: process tree {watch.peak_tree_mb:.0f} MB (sampled each second), "
        f"main process {watch.peak_main_mb:.0f} MB (VmHWM)"
    )
    print(
        f"poll start lateness vs slot (request at the host): p50 {ms(lateness, 0.5)}, "
        f"p99 {ms(lateness, 0.99)}, max {ms(lateness, 1.0)} ({len(lateness)} polls)"
    )
    print(
        f"  (during start-up and catch-up, second polls: p50 {ms(startup_lateness, 0.5)}, "
        f"p99 {ms(startup_lateness, 0.99)}, max {ms(startup_lateness, 1.0)}, "
        f"{len(startup_lateness)} polls)"
    )
    print(
        "polls over 5 s late in the window, by seconds after launch: "
        + (", ".join(f"{t}-{t + 15} s: {n}" for t, n in sorted(late_by_time.items())) or "none")
    )
    print(
        f"longest gap of a healthy feed: {max(gaps, default=0):.2f} periods; "
        f"polls skipped: {skipped}"
    )
    worst = sorted(probe["worst"], key=lambda w: -w[1])[:3]
    print(
        f"event-loop stall (50 ms probe, {len(stalls)} wake-ups): p99 {ms(stalls, 0.99)}, "
        f"max {ms(stalls, 1.0)}; worst at "
        + ", ".join(f"{late * 1000:.0f} ms @ {at - launched_real:.0f} s" for at, late in worst)
    )
    a = delivered.announcement_late
    print(
        f"announcement delivery (poll -> fake Discord): {len(a)} rows, p50 {ms(a, 0.5)}, "
        f"p99 {ms(a, 0.99)}, max {ms(a, 1.0)}; undelivered {delivered.announcements_undelivered}"
    )
    print(
        "  by kind: "
        + ", ".join(
            f"{kind} {len(v)} p99 {ms(v, 0.99)}"
            for kind, v in sorted(delivered.late_by_kind.items())
        )
        + "; undelivered: "
        + (
            ", ".join(f"{n} {why}" for why, n in sorted(delivered.undelivered_why.items()))
            or "none"
        )
    )
    r = delivered.reminder_late
    print(
        f"reminder delivery (due -> fake Discord): {len(r)} sent, p50 {ms(r, 0.5)}, "
        f"p99 {ms(r, 0.99)}, max {ms(r, 1.0)}; not sent {delivered.reminders_due_unsent} "
        f"{dict(sorted(delivered.reminder_states.items()))}"
    )
    print(
        f"Discord requests: window mean {mean_rps:.1f}/s, peak {peak_rps} in 1 s "
        f"(whole run mean {all_mean:.1f}/s, peak {all_peak}); 429s {too_many} "
        f"(fake counted {fake.rate_limited_count})"
    )
    emptied, _ = _emptied_buckets(rest, 5, 5.0)
    print(f"channel message buckets used up (5 per 5 s; the next send waits): {emptied} times")
    busiest_at, busiest = _busiest_second(rest, {c.id for c in fake.dm_channels.values()})
    top = sorted(busiest.items(), key=lambda kv: -kv[1])[:3]
    print(
        f"busiest second at {busiest_at - launched_real:.0f} s after launch: "
        + ", ".join(f"{count} x {route}" for route, count in top)
    )
    print(
        f"shared URL ({fleet.shared} servers): fetches per interval {per_interval}; "
        f"calendar host: {feeds.full_bodies} bodies, {feeds.not_modified} x 304"
    )
    print(
        f"bot log: {len(log_lines)} lines, {warnings} warnings/errors; machine load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores, shared)"
    )
    print(
        f"phases: window {window_start - launched_real:.0f}-{window_end - launched_real:.0f} s after launch; after the run {time.time() - window_end - DRAIN_SECONDS:.0f} s"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--full", action="store_true", help="1,000 feeds, 500 servers, 100,000 subscriptions"
    )
    parser.add_argument("--quick", action="store_true", help="40 feeds, 1 cycle (the default)")
    parser.add_argument("--cycles", type=int, help="measured poll cycles")
    parser.add_argument("--keep-log", type=Path, help="copy the bot's log here")
    args = parser.parse_args()
    fleet = FULL if args.full else QUICK
    if args.cycles:
        fleet = Fleet(**{**fleet.__dict__, "cycles": args.cycles})
    sys.exit(asyncio.run(run(fleet, args.keep_log)))


if __name__ == "__main__":
    main()
