"""Run calendar parsing in a killable child process with memory and CPU limits.

Expansion cost is driven by hostile data (docs/reliability.md, rule 7): a thread cannot be
stopped and would stall the Discord gateway heartbeat, so parsing happens in a process pool
whose workers carry ``RLIMIT_AS``/``RLIMIT_CPU``, and an outer wall-clock timeout kills the
workers outright. Results cross the boundary as plain dicts (``ParsedFeed.to_dict``) and errors
as (class name, message, reason) so they come back as the same ``FeedError`` subclass.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import multiprocessing
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from bot import errors
from bot.core.incremental import CacheView, Outcome, SplitMemo, ViewMemo, parse_changed
from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits, parse_feed
from bot.feeds.handoff import Spilled, read_body, remove, spill_off_loop

log = logging.getLogger(__name__)

__all__ = ["ParserPool", "scaled_allowance"]

DEFAULT_MEMORY_LIMIT = 1024 * 1024 * 1024
DEFAULT_CPU_LIMIT = 15.0
_DEFAULT_LIMITS = ParseLimits()

#: What a worker returns: {"ok": ParsedFeed dict} or {"error": class name, "message", "reason"}.
WorkerResult = dict[str, Any]
Worker = Callable[[bytes, str, str, str, ParseLimits], WorkerResult]

#: Parser children the pool may run at once. Two, so one slow or hostile feed (held up to its
#: wall-clock allowance) never queues every other feed's parse behind it; the second child is
#: only started when two parses overlap, so a quiet bot still runs one.
DEFAULT_WORKERS = 2
#: Feeds whose parser child the pool remembers (see ``ParserPool._token_lanes``).
_REMEMBERED_LANES = 4096


def _start_worker(memory_bytes: int | None) -> None:
    """Worker initializer: cap the address space (the CPU cap is renewed per task), then
    freeze what the imports left alive.

    Tens of thousands of module-level objects (the parser's and icalendar's) live as long as
    the worker; left in the collector's reach, every full collection walks them all, which
    added ~20 ms to one poll in three. Frozen, only what a task allocates is walked."""
    _set_limits(memory_bytes)
    gc.freeze()


def _set_limits(memory_bytes: int | None) -> None:
    """Cap the worker's address space."""
    try:
        import resource

        if memory_bytes:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            if hard != resource.RLIM_INFINITY:
                memory_bytes = min(memory_bytes, hard)
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
    except (ImportError, ValueError, OSError) as exc:  # non-POSIX or not permitted
        log.warning("could not limit parser memory: %s", exc)


def _renew_cpu_limit(cpu_seconds: float | None) -> None:
    """RLIMIT_CPU counts the worker's whole life, so grant this task its own allowance."""
    if not cpu_seconds:
        return
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime + cpu_seconds) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ImportError, ValueError, OSError) as exc:
        log.warning("could not limit parser CPU time: %s", exc)


def _error_result(exc: errors.FeedError) -> WorkerResult:
    return {"error": type(exc).__name__, "message": str(exc), "reason": exc.reason}


def parse_in_child(
    body: bytes,
    window_start: str,
    window_end: str,
    default_timezone: str,
    limits: ParseLimits,
) -> WorkerResult:
    """The worker entry point: parse and flatten the result (or the FeedError) to plain data."""
    try:
        parsed = parse_feed(
            body,
            window_start=datetime.fromisoformat(window_start),
            window_end=datetime.fromisoformat(window_end),
            default_timezone=default_timezone,
            limits=limits,
        )
    except errors.FeedError as exc:
        return _error_result(exc)
    except MemoryError:
        return _error_result(errors.ParseLimitExceeded("the calendar needs too much memory"))
    return {"ok": parsed.to_dict()}


def _run_task(
    worker: Worker,
    cpu_seconds: float | None,
    body: bytes,
    window_start: str,
    window_end: str,
    default_timezone: str,
    limits: ParseLimits,
) -> WorkerResult:
    _renew_cpu_limit(cpu_seconds)
    try:
        return worker(body, window_start, window_end, default_timezone, limits)
    except MemoryError:
        return _error_result(errors.ParseLimitExceeded("the calendar needs too much memory"))


def scaled_allowance(body_size: int) -> float:
    """Seconds a parse of ``body_size`` bytes may take: ~1.5 ms per event of ~700 bytes."""
    return max(DEFAULT_CPU_LIMIT, body_size / 700 * 0.0015 * 1.5)


#: The worker process's recent splits: a pool's workers live on, so the next poll of a feed
#: splits only what changed (a worker that never saw the feed simply splits it all).
_SPLITS = SplitMemo()


#: The worker process's memory of the cache views it was sent (see ``ViewMemo``).
_VIEWS = ViewMemo()

#: What the incremental worker answers when the handed-off body could not be read back.
_HANDOFF_FAILED = "handoff_failed"
#: What it answers to a lean view whose token it does not know: send the whole view.
_VIEW_UNKNOWN = "view_unknown"


def _run_incremental_task(
    cpu_seconds: float | None,
    body: bytes | Spilled,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str,
    limits: ParseLimits,
    cache: CacheView | None,
) -> Outcome | WorkerResult:
    """The incremental worker: an :class:`Outcome` (pickled as is) or a flattened FeedError."""
    _renew_cpu_limit(cpu_seconds)
    view, known = _VIEWS.resolve(cache)
    if not known:
        return {_VIEW_UNKNOWN: True}
    try:
        data = read_body(body)
    except OSError:
        return {_HANDOFF_FAILED: True}
    try:
        outcome = parse_changed(
            data,
            window_start=window_start,
            window_end=window_end,
            default_timezone=default_timezone,
            limits=limits,
            cache=view,
            splits=_SPLITS,
        )
    except errors.FeedError as exc:
        return _error_result(exc)
    except MemoryError:
        _SPLITS.clear()
        _VIEWS.clear()
        return _error_result(errors.ParseLimitExceeded("the calendar needs too much memory"))
    return _VIEWS.remember(view, outcome)


def _feed_error_classes() -> dict[str, type[errors.FeedError]]:
    found: dict[str, type[errors.FeedError]] = {}
    pending: list[type[errors.FeedError]] = [errors.FeedError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _rebuild_error(result: WorkerResult) -> errors.FeedError:
    cls = _feed_error_classes().get(str(result.get("error")), errors.CalendarError)
    message = str(result.get("message", ""))
    reason = result.get("reason")
    try:
        error = cls(message, reason=str(reason) if reason else None)
    except TypeError:  # subclasses with extra required arguments (not raised by the parser)
        error = errors.CalendarError(message, reason=str(reason) if reason else None)
    return error


def _unpack(result: WorkerResult) -> ParsedFeed:
    if "ok" in result:
        return ParsedFeed.from_dict(result["ok"])
    raise _rebuild_error(result)


@dataclass(slots=True)
class _Lane:
    """One parser child, in an executor of its own, so a feed's next parse can go back to the
    child that remembers its last split and view, and a child killed for overrunning takes
    no other feed's parse with it."""

    executor: concurrent.futures.ProcessPoolExecutor | None = None
    #: Bumped whenever the executor is thrown away: a caller holding an older one is late.
    generation: int = 0
    busy: bool = False


class ParserPool:
    """A lazily started, reusable pool of parser processes; see the module docstring.

    ``in_process=True`` parses in the calling process instead (no isolation, no timeout): for
    one-off CLI previews where starting a child costs more than it protects.
    """

    def __init__(
        self,
        *,
        max_workers: int = DEFAULT_WORKERS,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
        cpu_limit: float | None = DEFAULT_CPU_LIMIT,
        in_process: bool = False,
        start_method: str = "forkserver",
        worker: Worker = parse_in_child,
    ) -> None:
        if start_method not in multiprocessing.get_all_start_methods():
            start_method = "spawn"
        self._max_workers = max(1, max_workers)
        self._memory_limit = memory_limit
        self._cpu_limit = cpu_limit
        self._in_process = in_process
        self._context = multiprocessing.get_context(start_method)
        self._worker = worker
        self._lanes = [_Lane() for _ in range(self._max_workers)]
        #: The lane whose child made each recent outcome, by the outcome's view token: the
        #: feed's next parse prefers that child, which can split the next body against the
        #: last one and knows the view (elsewhere, both must be sent and made again).
        self._token_lanes: OrderedDict[bytes, int] = OrderedDict()
        self._closed = False
        self._splits = SplitMemo()
        #: At most one parse per child is handed to it; the rest wait here, so a parse's
        #: timeout measures its own run and not the queue of feeds ahead of it. Holding a slot
        #: guarantees a lane that is not busy.
        self._slots = asyncio.Semaphore(self._max_workers)

    # -- lifecycle ------------------------------------------------------------------------------

    def _executor_of(self, lane: _Lane) -> concurrent.futures.ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("ParserPool is closed")
        if lane.executor is None:
            lane.executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=1,
                mp_context=self._context,
                initializer=_start_worker,
                initargs=(self._memory_limit,),
            )
        return lane.executor

    def _discard(self, lane: _Lane, generation: int, *, kill: bool) -> None:
        """Throw away the lane's executor of ``generation`` (killing its child if asked)."""
        if generation != lane.generation or lane.executor is None:
            return
        executor, lane.executor = lane.executor, None
        lane.generation += 1
        if kill:
            for process in _processes(executor):
                with contextlib.suppress(OSError, AttributeError, ValueError):
                    process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        """The process ids of the live parser children (for measurements)."""
        return [
            process.pid
            for lane in self._lanes
            if lane.executor is not None
            for process in _processes(lane.executor)
        ]

    async def close(self) -> None:
        """Stop the workers (killing any still busy); the pool can't be used afterwards."""
        self._closed = True
        for lane in self._lanes:
            if lane.executor is not None:
                executor = lane.executor
                self._discard(lane, lane.generation, kill=True)
                await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)

    async def __aenter__(self) -> ParserPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- parsing ------------------------------------------------------------------------------

    async def parse(
        self,
        body: bytes,
        *,
        window_start: datetime,
        window_end: datetime,
        default_timezone: str = "UTC",
        limits: ParseLimits = _DEFAULT_LIMITS,
        timeout: float = 20.0,  # noqa: ASYNC109 - the child must be killed, not merely awaited
    ) -> ParsedFeed:
        """Parse ``body`` in a worker; a FeedError subclass on any failure, never a hang."""
        if window_start.tzinfo is None or window_end.tzinfo is None:
            raise ValueError("the parse window must be aware datetimes")
        if self._in_process:
            return parse_feed(
                body,
                window_start=window_start,
                window_end=window_end,
                default_timezone=default_timezone,
                limits=limits,
            )
        args = (
            bytes(body),
            window_start.isoformat(),
            window_end.isoformat(),
            default_timezone,
            limits,
        )
        result = await self._submit(_run_task, (self._worker, self._cpu_limit, *args), timeout)
        return _unpack(result)

    async def parse_incremental(
        self,
        body: bytes,
        *,
        window_start: datetime,
        window_end: datetime,
        default_timezone: str = "UTC",
        limits: ParseLimits = _DEFAULT_LIMITS,
        cache: CacheView | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the child must be killed
    ) -> Outcome:
        """Split ``body`` and parse only the groups ``cache`` lacks, in a worker.

        The timeout and CPU allowance grow with the body (a 50,000-event feed needs far more
        than the defaults) unless ``timeout`` is given.
        """
        if window_start.tzinfo is None or window_end.tzinfo is None:
            raise ValueError("the parse window must be aware datetimes")
        if self._in_process:
            return parse_changed(
                body,
                window_start=window_start,
                window_end=window_end,
                default_timezone=default_timezone,
                limits=limits,
                cache=cache,
                splits=self._splits,
            )
        allowance = scaled_allowance(len(body))
        cpu = None if self._cpu_limit is None else max(self._cpu_limit, allowance)
        wait = timeout if timeout is not None else allowance + 5
        spilled = await spill_off_loop(body)
        task = (window_start, window_end, default_timezone, limits)
        try:
            result = await self._incremental(cpu, spilled or body, task, cache, wait)
        finally:
            remove(spilled)
        if isinstance(result, dict) and result.get(_HANDOFF_FAILED):  # through the pipe, then
            result = await self._incremental(cpu, body, task, cache, wait)
        if isinstance(result, Outcome):
            return result
        raise _rebuild_error(result)

    async def _incremental(
        self,
        cpu: float | None,
        body: bytes | Spilled,
        task: tuple[datetime, datetime, str, ParseLimits],
        cache: CacheView | None,
        wait: float,
    ) -> Outcome | WorkerResult:
        """One incremental parse, in the child that made the feed's last outcome when it is
        free: the lean view first, the whole view when the child does not know its token."""
        lean = cache.lean() if cache is not None else None
        prefer = self._token_lanes.get(cache.token) if cache is not None and cache.token else None
        args = (cpu, body, *task, lean)
        result, lane = await self._submit_to_lane(_run_incremental_task, args, wait, prefer)
        if lean is not cache and isinstance(result, dict) and result.get(_VIEW_UNKNOWN):
            args = (cpu, body, *task, cache)
            result, lane = await self._submit_to_lane(_run_incremental_task, args, wait, lane)
        if isinstance(result, Outcome) and result.token:
            self._token_lanes[result.token] = lane
            while len(self._token_lanes) > _REMEMBERED_LANES:
                self._token_lanes.popitem(last=False)
        return result  # type: ignore[no-any-return]

    async def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        timeout: float,  # noqa: ASYNC109
    ) -> Any:
        result, _lane = await self._submit_to_lane(fn, args, timeout, None)
        return result

    async def _submit_to_lane(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        timeout: float,  # noqa: ASYNC109
        prefer: int | None,
    ) -> tuple[Any, int]:
        """Run ``fn`` in lane ``prefer`` when it is free, else in the first free lane (so a
        quiet bot keeps to one child); the result and the lane it ran in."""
        async with self._slots:
            if prefer is None or self._lanes[prefer].busy:
                prefer = next(i for i, lane in enumerate(self._lanes) if not lane.busy)
            lane = self._lanes[prefer]
            lane.busy = True
            try:
                return await self._run_in(lane, fn, args, timeout), prefer
            finally:
                lane.busy = False

    async def _run_in(
        self,
        lane: _Lane,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        timeout: float,  # noqa: ASYNC109
    ) -> Any:
        generation = lane.generation
        future = self._executor_of(lane).submit(fn, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            log.warning("parser child exceeded %.1f s; killing it", timeout)
            self._discard(lane, generation, kill=True)
            raise errors.ParseLimitExceeded(
                f"parsing took longer than {timeout:g} s and was stopped"
            ) from None
        except BrokenProcessPool:
            self._discard(lane, generation, kill=True)
            raise errors.ParseLimitExceeded(
                "the parser process died (memory or CPU limit exceeded)"
            ) from None
        except MemoryError:
            raise errors.ParseLimitExceeded("the parse result was too large") from None


def _processes(executor: concurrent.futures.ProcessPoolExecutor) -> list[Any]:
    """The executor's live worker processes (the standard library keeps them private)."""
    return list(dict(getattr(executor, "_processes", None) or {}).values())
