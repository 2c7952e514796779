"""The real parser pool, in process, counting the parses it is asked for."""

from __future__ import annotations

from typing import Any

from bot.core.incremental import Outcome
from bot.core.models import ParsedFeed
from bot.feeds.isolate import ParserPool


class CountingParser(ParserPool):
    """Counts every parse handed to the pool: the work a child process would do."""

    def __init__(self) -> None:
        super().__init__(in_process=True)
        self.calls = 0

    async def parse(self, body: bytes, **kwargs: Any) -> ParsedFeed:
        self.calls += 1
        return await super().parse(body, **kwargs)

    async def parse_incremental(self, body: bytes, **kwargs: Any) -> Outcome:
        self.calls += 1
        return await super().parse_incremental(body, **kwargs)
