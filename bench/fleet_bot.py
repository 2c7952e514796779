"""The bot process of the fleet bench: ``seminar-bot run``'s own path plus an event-loop probe.

    DISCORD_TOKEN=... python -m bench.fleet_bot CONFIG REPORT

It does what ``seminar-bot run`` does (load and check the config, ``bot.app.prepare_run``,
then ``bot.app.serve`` until SIGTERM) and, beside it on the same
event loop, a probe that asks to wake every 50 ms and records how late each wake-up came: a
callback that holds the loop shows up as a late wake-up. On exit the lateness samples are
written to REPORT as JSON. The probe costs twenty wake-ups a second, which is counted in the
bot's CPU like everything else.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from bot.app import prepare_run, serve
from bot.config import Config, load_config

PROBE_SECONDS = 0.05


class StallProbe:
    """Wakes every :data:`PROBE_SECONDS` and keeps how late each wake-up was (seconds)."""

    def __init__(self) -> None:
        self.late: list[float] = []
        #: (wall clock, seconds late) of the wake-ups a tenth of a second late or more.
        self.worst: list[tuple[float, float]] = []
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        while not self._stopped.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(PROBE_SECONDS)
            late = max(0.0, time.perf_counter() - asked - PROBE_SECONDS)
            self.late.append(late)
            if late >= 0.1:
                self.worst.append((time.time(), late))

    def stop(self) -> None:
        self._stopped.set()


async def _serve_with_probe(config: Config, token: str, report: Path) -> int:
    probe = StallProbe()
    task = asyncio.create_task(probe.run(), name="stall-probe")
    try:
        return await serve(config, token)
    finally:
        probe.stop()
        await task
        await asyncio.to_thread(
            report.write_text, json.dumps({"late": probe.late, "worst": probe.worst}), "utf-8"
        )


def main(argv: list[str]) -> int:
    config_path, report = argv
    config, token = prepare_run(load_config(config_path, require_routing=True))
    return asyncio.run(_serve_with_probe(config, token, Path(report)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
