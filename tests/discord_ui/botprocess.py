"""The real ``seminar-bot run`` process, driven the way an operator (or Docker) drives it.

Its stderr is read line by line as it arrives, so a test can wait (event-driven, bounded) for
"the bot said X" instead of sleeping; every byte of stdout and stderr is kept for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_config(
    tmp_path: Path,
    *,
    api_base_url: str,
    gateway_url: str,
    log_format: str = "text",
    feeds: str = "",
) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "bot.db"
[discord]
api_base_url = "{api_base_url}"
gateway_url = "{gateway_url}"
[logging]
format = "{log_format}"
level = "INFO"
{feeds}
""",
        encoding="utf-8",
    )
    return path


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Blackhole:
    """A loopback port that accepts connections and never answers (a silent firewall)."""

    def __init__(self) -> None:
        self.port = 0
        #: Set once a client connected (and now waits for an answer that never comes).
        self.accepted = asyncio.Event()


@contextlib.asynccontextmanager
async def blackhole() -> AsyncIterator[Blackhole]:
    hole = Blackhole()
    held: list[asyncio.StreamWriter] = []

    async def swallow(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        hole.accepted.set()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    hole.port = int(server.sockets[0].getsockname()[1])
    try:
        yield hole
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


class BotProcess:
    """``python -m bot run --config CONFIG`` with a token in its environment."""

    def __init__(self, config: Path, token: str, *, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.token = token
        self.env = {**os.environ, "DISCORD_TOKEN": token, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.env.pop("DISCORD_TOKEN_FILE", None)
        self.env.pop("SEMINAR_BOT_DB", None)
        self.stdout = bytearray()
        self.stderr = bytearray()
        self._lines: list[str] = []
        self._changed = asyncio.Condition()
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> BotProcess:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(self.config),
            cwd=self.config.parent, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(self._proc.stdout, self.stdout)),
            asyncio.create_task(self._read(self._proc.stderr, self.stderr)),
        ]
        return self

    async def _read(self, stream: asyncio.StreamReader, into: bytearray) -> None:
        while line := await stream.readline():
            into.extend(line)
            async with self._changed:
                self._lines.append(line.decode("utf-8", "replace"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    @property
    def lines(self) -> list[str]:
        return list(self._lines)

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self._lines)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds, re-checked after every line the bot prints."""

        def holds() -> bool:
            return predicate() or self.exited

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(holds)
        except TimeoutError:
            raise AssertionError(
                f"condition not met within {timeout} s; the bot said:\n{self.text}"
            ) from None
        assert predicate(), f"the bot exited ({self.returncode}) first; it said:\n{self.text}"

    async def wait_for_line(self, needle: str, count: int = 1, timeout: float = 20) -> None:  # noqa: ASYNC109
        await self.wait_for(lambda: self.count(needle) >= count, timeout)

    @property
    def exited(self) -> bool:
        return self._proc is not None and self._proc.returncode is not None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    async def wait(self, timeout: float = 30) -> int:  # noqa: ASYNC109
        """The exit status, once the process ended and all its output was read."""
        assert self._proc is not None
        try:
            async with asyncio.timeout(timeout):
                code = await self._proc.wait()
                await asyncio.gather(*self._readers)
        except TimeoutError:
            self.kill()
            raise AssertionError(
                f"still running after {timeout} s; it said:\n{self.text}"
            ) from None
        async with self._changed:
            self._changed.notify_all()
        return code

    async def terminate(self, timeout: float = 5) -> int:  # noqa: ASYNC109
        """SIGTERM, as ``docker stop`` sends it; the exit status within ``timeout``."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()

    @property
    def text(self) -> str:
        return (self.stdout + self.stderr).decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def bot_process(
    config: Path, token: str, *, env: dict[str, str] | None = None
) -> AsyncIterator[BotProcess]:
    proc = await BotProcess(config, token, env=env).start()
    try:
        yield proc
    finally:
        proc.kill()
        with contextlib.suppress(Exception):
            await proc.wait(10)
