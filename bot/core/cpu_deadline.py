"""Stop one runaway computation after a CPU-time budget, leaving the rest of the work alive.

dateutil searches for a recurrence's next instance period by period until the year 9999 and
checks UNTIL only on instances it found, so a rule that stops matching (and that the static
analysis in :mod:`bot.core.rrule_match` could not rule out) would run for seconds. Nothing
inside that loop can be told to stop, so a virtual-time timer (SIGVTALRM, which leaves the
SIGALRM of test runners alone) raises :class:`CpuDeadlineExceeded` into it.

It works only in the main thread (where Python runs signal handlers), which is where the parser
child runs every parse; elsewhere it does nothing and the child's own limits apply. The handler
never interrupts time-zone code: dateutil's zones keep locks and caches shared by every event,
and an exception there could leave one held. It waits a little and tries again instead.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["CpuDeadlineExceeded", "cpu_deadline"]

_RETRY_SECONDS = 0.01
_SHARED_STATE_MODULES = ("dateutil/tz/", "dateutil\\tz\\", "/zoneinfo/", "\\zoneinfo\\")


class CpuDeadlineExceeded(Exception):
    """The guarded block used up its CPU-time budget."""


def _in_shared_state(frame: FrameType | None) -> bool:
    while frame is not None:
        filename = frame.f_code.co_filename
        if any(part in filename for part in _SHARED_STATE_MODULES):
            return True
        frame = frame.f_back
    return False


def _usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def cpu_deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`CpuDeadlineExceeded` inside the block once it has used ``seconds`` of CPU."""
    if seconds <= 0 or not _usable():
        yield
        return
    armed = True

    def expire(_signum: int, frame: FrameType | None) -> None:
        if not armed:
            return
        if _in_shared_state(frame):
            signal.setitimer(signal.ITIMER_VIRTUAL, _RETRY_SECONDS)
            return
        raise CpuDeadlineExceeded(f"stopped after {seconds:g} s of CPU time")

    previous = signal.signal(signal.SIGVTALRM, expire)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
