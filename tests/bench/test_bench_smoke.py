"""The benchmark suite runs end to end at tiny sizes and prints machine-readable figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURE = re.compile(r"^[a-z0-9_]+: [0-9.e+-]+ (ms|MB|s)( \([0-9.e+-]+× floor\))?$")


def test_quick_bench_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert lines and all(FIGURE.match(line) for line in lines), lines
    names = {line.split(":")[0] for line in lines}
    for expected in (
        "floor_30",
        "full_parse_diff_30",
        "incremental_poll_0_changed_30",
        "incremental_poll_100_changed_200_rrule",
        "unchanged_poll_304",
        "peak_rss_poll_30_main",
    ):
        assert expected in names, names
