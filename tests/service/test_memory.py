"""A body freed after a poll goes back to the system instead of staying resident."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not Path("/proc/self/status").exists(),
    reason="glibc's allocator on Linux",
)

_FREE_A_BODY = """
import sys
from pathlib import Path

def resident_mb():
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) // 1024

if sys.argv[1] == "tuned":
    from bot.service.memory import return_large_buffers
    assert return_large_buffers()
size = 20 * 1024 * 1024
previous_body = bytes(size)
del previous_body  # one poll's body, freed
body = b"x" * size  # the next poll's body
later = [bytes(1000) for _ in range(100)]  # what the poll allocates after it, and keeps
before = resident_mb()
del body
print(before - resident_mb())
"""


def _freed_mb(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _FREE_A_BODY, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout)


def test_a_freed_body_leaves_the_process_once_the_allocator_is_tuned() -> None:
    # Untuned, glibc serves the second body from its heap and keeps it (0 MB freed here).
    assert _freed_mb("tuned") >= 18
