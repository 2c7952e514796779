"""Memory figures of a process, read from Linux's ``/proc/<pid>/status``."""

from __future__ import annotations

from pathlib import Path


def status_mb(pid: int | str, key: str) -> float:
    """The ``key`` line (``"VmRSS:"``, ``"VmHWM:"``, ...) of the process in MB; 0.0 when the
    process is gone or the system has no such file."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0.0
    for row in status.splitlines():
        if row.startswith(key):
            return int(row.split()[1]) / 1024
    return 0.0
