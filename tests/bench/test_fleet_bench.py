"""The fleet bench's calendar host changes feeds the way its docstring says, and its figures
are computed as printed (the full run itself takes minutes and is not part of the suite)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import aiohttp

from bench.fleet_feeds import FleetFeeds, host_of, kind_of
from bench.fleet_metrics import percentile, request_rates


async def test_each_kind_of_feed_changes_as_described() -> None:
    feeds = FleetFeeds(period=60.0, hanging=set())
    soon = datetime.now(UTC) + timedelta(minutes=5)
    runner, port = await feeds.start(hosts=1)
    try:
        async with aiohttp.ClientSession() as session:

            async def get(index: int, etag: str = "") -> tuple[int, str, bytes]:
                url = f"http://{host_of(0)}:{port}{feeds.path_of(index, shared=False)}"
                headers = {"If-None-Match": etag} if etag else {}
                async with session.get(url, headers=headers) as response:
                    return response.status, response.headers.get("ETag", ""), await response.read()

            bodies: dict[int, list[bytes]] = {}
            for cycle in (0, 1, 2):
                # Cycles count from the bot's launch: place it ``cycle`` periods ago.
                launched = datetime.now(UTC).timestamp() - cycle * 60.0 - 1.0
                feeds.begin(launched, {i: soon for i in range(-1, 10)})
                for index in range(10):
                    status, etag, body = await get(index)
                    assert status == 200
                    bodies.setdefault(index, []).append(body)
                    if kind_of(index) == "etag":
                        assert (await get(index, etag))[0] == 304
        for index, seen in bodies.items():
            kind = kind_of(index)
            changed = [a != b for a, b in itertools.pairwise(seen)]
            assert changed == ([False, False] if kind in ("etag", "same") else [True, True])
            if kind in ("new", "edit"):
                assert seen[2].count(b"BEGIN:VEVENT") == seen[0].count(b"BEGIN:VEVENT") + 2
            if kind == "stamp":
                assert seen[2].count(b"BEGIN:VEVENT") == seen[0].count(b"BEGIN:VEVENT")
        assert b"Malone 202" in bodies[9][2]  # the edit kind moved the previous new talk
    finally:
        await runner.cleanup()


def test_rates_and_percentiles() -> None:
    assert request_rates([0.0, 0.1, 0.2, 5.0, 10.0]) == (0.5, 3)
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 99.0
    assert percentile([3.0], 0.5) == 3.0
