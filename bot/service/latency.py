"""Keep the event loop responsive while a worker thread computes.

The bot runs its database work, and the digest and cache work of large feed bodies, on a
thread beside the event loop. CPython hands the interpreter lock to a waiting thread only
every *switch interval*, 5 ms by default, so while that thread computes, each wake-up of the
event loop (a gateway heartbeat, an interaction to answer within 3 s, a due reminder) waits
up to 5 ms for the lock, and a few such waits in a row make a visible stall. A 1 ms interval
bounds each wait to about a millisecond; the price, a few more lock hand-offs, is paid only
while threads compete for it.
"""

from __future__ import annotations

import sys

#: Seconds a thread may hold the interpreter lock while another waits for it.
SWITCH_INTERVAL = 0.001


def favour_the_event_loop() -> None:
    """Set the process's switch interval to :data:`SWITCH_INTERVAL` (once, at start-up)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
