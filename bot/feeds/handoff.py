"""How a large body reaches the parser child: through a private temporary file, not the pipe.

A process pool pickles every argument and pushes it through a pipe a few kilobytes at a time,
each chunk a wake-up of both processes: ~10 ms for a 7 MB feed on a busy machine. Written to
a temporary file (one ``write``, on a worker thread; in memory, under ``/dev/shm``, where
there is one) and read back whole by the child, the same body costs ~3 ms. The file is
created readable by this user only, and the parent removes it as soon as the child has
answered (or was killed). When no file can be written, the body goes
through the pipe as before: the hand-off is an optimisation, never a new way to fail a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass

__all__ = ["SPILL_FROM", "Spilled", "read_body", "remove", "spill", "spill_off_loop"]

#: Smaller bodies go through the pipe: a file costs more than it saves below this.
SPILL_FROM = 256 * 1024


@dataclass(frozen=True, slots=True)
class Spilled:
    """A body left in a temporary file for the child to read."""

    path: str
    size: int


def spill(body: bytes) -> Spilled | None:
    """The body in a new private temporary file; ``None`` when that cannot be done."""
    if len(body) < SPILL_FROM:
        return None
    for directory in _DIRECTORIES:
        spilled = _spill_into(directory, body)
        if spilled is not None:
            return spilled
    return None


def _spill_into(directory: str | None, body: bytes) -> Spilled | None:
    try:
        fd, path = tempfile.mkstemp(prefix="seminar-bot-body-", dir=directory)
    except OSError:
        return None
    try:
        with open(fd, "wb") as out:
            out.write(body)
    except OSError:  # a full memory file system, say: the next directory, then the pipe
        remove(Spilled(path, len(body)))
        return None
    return Spilled(path, len(body))


def _directories() -> tuple[str | None, ...]:
    """Where bodies are written: a memory file system first, when there is one we may write
    to. On a disk-backed temporary directory a 7 MB write every poll now and then waits
    behind the write-back of the bodies before it (2 ms became 18 ms); in memory it never
    touches a disk. ``None`` stands for the system's temporary directory."""
    shared_memory = "/dev/shm"
    if os.path.isdir(shared_memory) and os.access(shared_memory, os.W_OK | os.X_OK):
        return (shared_memory, None)
    return (None,)


_DIRECTORIES = _directories()


async def spill_off_loop(body: bytes) -> Spilled | None:
    """:func:`spill` on a worker thread (a write of megabytes must not block the event loop).

    A caller cancelled meanwhile still gets its file removed once the write is done."""
    if len(body) < SPILL_FROM:
        return None
    writing = asyncio.ensure_future(asyncio.to_thread(spill, body))
    try:
        return await asyncio.shield(writing)
    except asyncio.CancelledError:
        writing.add_done_callback(_remove_written)
        raise


def _remove_written(writing: asyncio.Future[Spilled | None]) -> None:
    if not writing.cancelled() and writing.exception() is None:
        remove(writing.result())


def read_body(body: bytes | Spilled) -> bytes:
    """The body itself (in the child): read back whole, or ``OSError`` when it is not there."""
    if isinstance(body, bytes):
        return body
    with open(body.path, "rb") as source:
        data = source.read(body.size + 1)
    if len(data) != body.size:
        raise OSError(f"the handed-off body has {len(data)} bytes, not {body.size}")
    return data


def remove(body: Spilled | None) -> None:
    if body is not None:
        with contextlib.suppress(OSError):
            os.unlink(body.path)
