"""Server-side latency of the member lookups with 10,000 stored events.

Runs the same query + presentation functions the ``/seminars`` commands run (on one thread,
as the bot's database thread does), and prints ``name: value unit`` lines::

    python -m bench.commands_bench [--events 10000] [--runs 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.core.diff import DiffPolicy, diff_feed
from bot.core.models import Occurrence, OccurrenceKey, ParsedFeed, SeminarDetails
from bot.discord_ui.lookup_embeds import choice_label, list_pages
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import search as search_store
from bot.store.db import open_database

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
GUILD = 1
FIRST = [
    "Michael",
    "Grace",
    "Ada",
    "Alan",
    "Barbara",
    "Donald",
    "Edsger",
    "Frances",
    "John",
    "Leslie",
    "Margaret",
    "Niklaus",
    "Radia",
    "Shafi",
    "Tim",
    "Yann",
    "Fei-Fei",
    "Judea",
]
LAST = [
    "Mahoney",
    "Hopper",
    "Lovelace",
    "Turing",
    "Liskov",
    "Knuth",
    "Dijkstra",
    "Allen",
    "McCarthy",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Goldwasser",
    "Berners-Lee",
    "LeCun",
    "Li",
    "Pearl",
    "Karp",
    "Valiant",
    "Tarjan",
    "Hennessy",
    "Patterson",
]
TOPICS = [
    "randomized linear algebra",
    "compilers",
    "quantum computing",
    "graph algorithms",
    "cryptography",
    "distributed consensus",
    "causal inference",
    "computer vision",
    "programming languages",
    "operating systems",
    "machine learning theory",
    "databases",
]
UNIS = ["UC Berkeley", "Yale University", "MIT", "Stanford", "ETH Zurich", "Oxford", "CMU"]


def occurrences(count: int, rng: random.Random) -> list[Occurrence]:
    result = []
    for i in range(count):
        start = NOW + timedelta(hours=2 + i * 0.4)  # ~10,000 events over ~170 days
        speaker = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        topic = rng.choice(TOPICS)
        result.append(
            Occurrence(
                key=OccurrenceKey(f"bench-{i}@example.edu"),
                start=start,
                end=start + timedelta(hours=1),
                timezone="America/New_York",
                summary=f"CS Seminar: {speaker} – {topic.title()} {i}",
                location="Hackerman Hall B-17",
                seminar=SeminarDetails(
                    series="CS Seminar",
                    speaker=speaker,
                    affiliation=rng.choice(UNIS),
                    title=f"New results in {topic} ({i})",
                    abstract=f"We discuss {topic} and {rng.choice(TOPICS)}. " * 8,
                ),
            )
        )
    return result


def build(events: int) -> object:
    db = open_database(None)
    rng = random.Random(42)
    occs = occurrences(events, rng)
    half = len(occs) // 2
    for name, part in (("cs", occs[:half]), ("math", occs[half:])):
        feed = feed_store.upsert_feed(
            db, name=name, url=f"https://x/{name}", guild_id=GUILD, now=NOW
        )
        parsed = ParsedFeed(tuple(part), NOW - timedelta(days=1), NOW + timedelta(days=365))
        result = diff_feed(name, [], parsed, now=NOW, policy=DiffPolicy(), baseline="silent")
        event_store.save_poll_result(
            db, feed.id, result, now=NOW, etag=None, last_modified=None, body_hash=None
        )
    return db


def measure(fn: Callable[[int], object], runs: int) -> tuple[float, float]:
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times), p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    t0 = time.perf_counter()
    db = build(args.events)
    print(f"setup_events: {args.events} events")
    print(f"setup_time: {time.perf_counter() - t0:.1f} s")

    def upcoming(i: int) -> object:
        hits = search_store.upcoming(db, GUILD, now=NOW, until=NOW + timedelta(days=14), limit=200)  # type: ignore[arg-type]
        return list_pages(hits, title="Seminars", empty="none")[0]  # the page the answer shows

    queries = ["mahoney", "quantum computing", "mahony", "yale", "lovelase turing", "zzzz"]

    def search(i: int) -> object:
        result = search_store.search_events(db, GUILD, queries[i % len(queries)], now=NOW)  # type: ignore[arg-type]
        return list_pages(result.hits, title="Search", empty="none")[0]

    prefixes = ["", "m", "mah", "hopp", "quant", "grace hop", "yale"]

    def autocomplete(i: int) -> object:
        hits = search_store.autocomplete(db, GUILD, prefixes[i % len(prefixes)], now=NOW)  # type: ignore[arg-type]
        return [choice_label(h, "UTC") for h in hits]

    for name, fn in (
        ("upcoming_14d", upcoming),
        ("search", search),
        ("autocomplete", autocomplete),
    ):
        p50, p99 = measure(fn, args.runs)
        print(f"{name}_p50: {p50:.2f} ms")
        print(f"{name}_p99: {p99:.2f} ms")

    def typo_after_change(i: int) -> object:
        # The first misspelt query after a poll changed events rebuilds the trigram index.
        search_store._VOCABULARY_INDEXES.clear()
        return search_store.search_events(db, GUILD, "mahony", now=NOW)  # type: ignore[arg-type]

    p50, p99 = measure(typo_after_change, 20)
    print(f"search_typo_first_after_change_p50: {p50:.2f} ms")
    for query in queries:
        p50, _ = measure(lambda _i, q=query: search_store.search_events(db, GUILD, q, now=NOW), 30)  # type: ignore[misc, arg-type]
        print(f"search[{query}]_p50: {p50:.2f} ms")


if __name__ == "__main__":
    main()
