"""``python -m bench``: what a poll costs against the floor of reading and hashing the body.

Each figure is printed as ``name: value unit (ratio× floor)`` with the floor measured in the
same run. ``--quick`` runs tiny sizes only (the CI smoke test); ``--only 10000`` runs just that
size's scenarios (in a fresh process, as the full run does), for quick before/after checks.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.feedgen import Talk, iter_seminar_series, render_feed
from bench.harness import BenchPoller, max_stall, not_modified_poll
from bench.procstat import status_mb
from bot.service.process import tune_process

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def line(name: str, value: float, unit: str, floor: float | None) -> None:
    ratio = f" ({value / floor:.1f}× floor)" if floor else ""
    print(f"{name}: {value:.3g} {unit}{ratio}", flush=True)


def median_ms(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def amedian_ms(fn: Callable[[], Awaitable[object]], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def read_and_hash(path: Path, buffer: bytearray) -> bytes:
    """The floor: read the body and hash it. Into a reused buffer, so the floor does not move
    with the allocator's choice to map a fresh block (and fault its pages) for every read."""
    with path.open("rb", buffering=0) as stream:
        stream.readinto(buffer)
    return hashlib.sha256(buffer).digest()


def talks_for(count: int, recurring: bool, n: int = 0, version: int = 0) -> Iterator[Talk]:
    """The feed's talks, ``n`` of them retitled for ``version``, one at a time: the size child
    measures the poller's memory, which a list of 50,000 talks (~40 MB) would inflate."""
    edits = {(i * 7919) % count: i for i in range(min(n, count))}  # a later edit wins
    talks = iter_seminar_series(
        count,
        first=NOW - timedelta(days=1),
        recurring_share=0.1 if recurring else 0.0,
        spacing=timedelta(minutes=max(10, 180 * 24 * 60 // max(count, 1))),
    )
    for index, talk in enumerate(talks):
        if index in edits:
            talk = replace(talk, title=f"Revised title {version}-{edits[index]}")
        yield talk


async def run_size(
    count: int, recurring: bool, reps: int, full_baseline: bool, tmp: Path, in_child: bool = False
) -> None:
    tag = f"{count}{'_rrule' if recurring else ''}"
    body = render_feed(talks_for(count, recurring), stamp=NOW)
    path = tmp / f"feed-{tag}.ics"
    path.write_bytes(body)
    floor = median_ms(functools.partial(read_and_hash, path, bytearray(len(body))), max(reps, 5))
    line(f"floor_{tag}", floor, "ms", floor)
    if full_baseline and not in_child:
        full_parse_diff(body, tag, count, reps, floor)
    async with BenchPoller(tmp / f"{tag}.db", now=NOW) as poller:
        cold = await amedian_ms(functools.partial(poller.poll, body), 1)
        line(f"cold_poll_{tag}", cold, "ms", floor)
        del body  # a bot holds one body at a time: the peak below must not count this one
        version = 0

        async def timed_poll(n: int) -> float:
            """One poll with ``n`` edited events; the body is rendered before the clock starts."""
            nonlocal version
            version += 1
            poller.advance(minutes=15)
            next_body = render_feed(talks_for(count, recurring, n, version), stamp=poller.now)
            start = time.perf_counter()
            await poller.poll(next_body)
            return (time.perf_counter() - start) * 1000

        for n in (0, 1, 100) if count < 50_000 else (0, 1):
            if n > count:
                continue
            times = [await timed_poll(n) for _ in range(reps)]
            line(f"incremental_poll_{n}_changed_{tag}", statistics.median(times), "ms", floor)
        if count == 10_000 and not recurring:
            stalls = []
            for _ in range(STALL_RUNS):
                version += 1
                poller.advance(minutes=15)
                next_body = render_feed(talks_for(count, recurring, 1, version), stamp=poller.now)
                stalls.append(await max_stall(functools.partial(poller.poll, next_body)))
            line(f"median_loop_stall_incremental_poll_{tag}", statistics.median(stalls), "ms", None)
            line(f"max_loop_stall_incremental_poll_{tag}", max(stalls), "ms", None)
        if in_child:
            line(f"peak_rss_poll_{tag}_parser_child", poller.parser_peak_mb(), "MB", None)
    if in_child:
        # Read before the in-process full-parse baseline below, whose peak is not the poll's.
        line(f"peak_rss_poll_{count}_main", peak_rss_mb(), "MB", None)
        if full_baseline:
            full_parse_diff(path.read_bytes(), tag, count, reps, floor)


#: 1-changed polls watched by the stall ticker; the median and the worst are printed.
STALL_RUNS = 5


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), its own since it started.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries the image a process replaced at ``exec``
    into it, so a size child forked from a parent holding 130 MB reported 130 MB whatever
    it held itself. (Without ``/proc``, the portable figure.)"""
    peak = status_mb("self", "VmHWM:")
    if peak:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def full_parse_diff(body: bytes, tag: str, count: int, reps: int, floor: float) -> None:
    from bot.core.diff import diff_feed
    from bot.core.parse import parse_feed

    def full() -> None:
        parsed = parse_feed(
            body, window_start=NOW - timedelta(days=1), window_end=NOW + timedelta(days=180)
        )
        diff_feed("bench", [], parsed, now=NOW, baseline="silent")

    line(f"full_parse_diff_{tag}", median_ms(full, 1 if count >= 10_000 else reps), "ms", floor)


def size_child(count: int) -> None:
    """Run one big size in a fresh process, so its peak RSS is the poll's own."""

    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            reps = 3 if count <= 10_000 else 1
            await run_size(count, False, reps, count <= 10_000, Path(tmp), in_child=True)

    asyncio.run(main())


def in_fresh_process(count: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--size-child", str(count)],
        check=False,
        capture_output=True,
        text=True,
    )
    print(done.stdout, end="", flush=True)
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or ["?"])[-1]
        print(f"# size {count} could not be polled: {reason}", flush=True)


async def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if quick:
            plan = [(30, False, 3, True), (200, True, 3, True)]
        else:
            plan = [
                (30, False, 5, True),
                (1_000, False, 3, True),
                (1_000, True, 3, True),
                (10_000, True, 1, False),
            ]
        for count, recurring, reps, baseline in plan:
            await run_size(count, recurring, reps, baseline, tmp)
        line(
            "unchanged_poll_304",
            await not_modified_poll(render_feed(talks_for(30, False))),
            "ms",
            None,
        )
    for count in (30,) if quick else (10_000, 50_000):
        await asyncio.to_thread(in_fresh_process, count)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="tiny sizes only (CI smoke test)")
    parser.add_argument("--size-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--only", type=int, metavar="EVENTS", help="run only this feed size (e.g. 10000)"
    )
    args = parser.parse_args()
    tune_process()  # as the bot's own start-up does
    if args.size_child:
        size_child(args.size_child)
    elif args.only:
        started = time.perf_counter()
        in_fresh_process(args.only)
        print(f"bench_wall_time: {time.perf_counter() - started:.1f} s", flush=True)
    else:
        started = time.perf_counter()
        asyncio.run(main(args.quick))
        print(f"bench_wall_time: {time.perf_counter() - started:.1f} s", flush=True)
