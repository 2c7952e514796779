"""The process-wide settings the bot applies once at start-up (the benches, which stand for
the bot, apply them too)."""

from __future__ import annotations

from bot.service.latency import favour_the_event_loop
from bot.service.memory import return_large_buffers


def tune_process() -> None:
    """Large buffers returned to the system as soon as they are freed, and the event loop
    never kept waiting long for the interpreter lock."""
    return_large_buffers()
    favour_the_event_loop()
