"""Keep the main process's resident memory close to what it holds, not what it once held.

Each poll of a large feed passes a few buffers of many megabytes through the main process: the
downloaded body, its pickled copy for the parser process, the parser's pickled answer. glibc's
``malloc`` serves such a buffer from its own mapping and gives it back when it is freed, but it
also raises its mapping threshold to the size of every such buffer freed, so the next body
comes from the heap instead, and a freed heap block stays resident while anything above it
lives. Over a few polls the process then keeps tens of megabytes it no longer uses (about a
fifth of the bot's memory at 10,000 events). A fixed threshold keeps every large buffer in its
own mapping, returned as soon as it is freed.
"""

from __future__ import annotations

import ctypes

#: Buffers from this size up get their own mapping (glibc's default before it adapts is 128 KiB).
LARGE_BUFFER = 256 * 1024
#: ``M_MMAP_THRESHOLD`` in glibc's ``malloc.h``.
_M_MMAP_THRESHOLD = -3


def return_large_buffers() -> bool:
    """Fix glibc's mapping threshold at :data:`LARGE_BUFFER`; ``False`` where the C library
    has no ``mallopt`` (the allocator then behaves as it always did)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER))
