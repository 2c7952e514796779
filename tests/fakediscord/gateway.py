"""The fake gateway: HELLO, heartbeats, IDENTIFY/READY, RESUME with replay, and on-demand faults.

One bot session at a time. Every dispatch is numbered and logged so a RESUME after a dropped
connection replays exactly the events the client missed. Frames go out through one writer
task per connection, so injections can be synchronous and still stay in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
GUILD_SCHEDULED_EVENTS = 1 << 16
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

#: Close codes after which discord.py gives up instead of resuming.
AUTHENTICATION_FAILED = 4004
DISALLOWED_INTENTS = 4014
#: A close code discord.py treats as "reconnect and RESUME".
RESUMABLE_CLOSE = 4000

_CLOSE = object()


@dataclass
class GatewaySession:
    session_id: str
    intents: int
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)


class _Connection:
    """One websocket plus the queue its writer task drains."""

    def __init__(self, ws: web.WebSocketResponse, path: str) -> None:
        self.ws = ws
        self.path = path
        self.live = False  # True once IDENTIFY/RESUME succeeded: dispatches may flow
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(payload)

    def close(self, code: int, message: str = "") -> None:
        self.live = False
        self.queue.put_nowait((_CLOSE, code, message))

    async def _write(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, tuple) and item[0] is _CLOSE:
                await self.ws.close(code=item[1], message=item[2].encode())
                return
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(json.dumps(item))
            except ConnectionError:
                return


class FakeGateway:
    """Gateway state machine; the server owns it and mounts :meth:`handle` on two paths."""

    def __init__(
        self,
        *,
        token: Callable[[], str],
        ready_payload: Callable[[str], dict[str, Any]],
        guild_payloads: Callable[[], list[dict[str, Any]]],
        on_change: Callable[[], None],
    ) -> None:
        self._token = token
        self._ready_payload = ready_payload
        self._guild_payloads = guild_payloads
        self._on_change = on_change
        #: Milliseconds announced in HELLO.
        self.heartbeat_interval_ms = 1000
        #: Privileged intents the "developer portal" allows (presences off by default).
        self.allowed_privileged_intents = GUILD_MEMBERS | MESSAGE_CONTENT
        self.session: GatewaySession | None = None
        self.identify_count = 0
        self.resume_count = 0
        self.connect_count = 0
        self.heartbeat_count = 0
        #: Paths of every connection in order ("/gateway" or "/gateway-resume").
        self.connect_paths: list[str] = []
        #: Close codes the fake sent, in order.
        self.close_codes: list[int] = []
        self.received: list[dict[str, Any]] = []
        #: While True, a valid IDENTIFY gets no READY until :meth:`release_ready` (a client that
        #: has logged in but is not ready yet, e.g. for a health check that must say "unhealthy").
        self.hold_ready = False
        #: Connections whose IDENTIFY is waiting for :meth:`release_ready`.
        self.held_identifies: list[tuple[_Connection, dict[str, Any]]] = []
        self._current: _Connection | None = None
        self._all: list[_Connection] = []
        #: While True, new connections are answered 503 (an outage); live ones are kept.
        self.refuse_connections = False
        #: Connections refused because of ``refuse_connections``.
        self.refused_count = 0

    @property
    def ready(self) -> bool:
        """True while a client holds a live (identified or resumed) connection."""
        return self._current is not None and self._current.live

    # --- dispatching ----------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0) -> int | None:
        """Number, log and (if connected) send an event; None when no session wants it."""
        session = self.session
        if session is None or (intent and not session.intents & intent):
            return None
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(payload)
        if self._current is not None and self._current.live:
            self._current.send(payload)
        return session.seq

    # --- faults ---------------------------------------------------------------------------

    def drop(self, code: int = RESUMABLE_CLOSE) -> None:
        """Close the live connection with a resumable code; the client should RESUME."""
        if self._current is not None:
            self.close_codes.append(code)
            self._current.close(code, "fake: dropped")
            self._current = None

    def invalidate_session(self, *, resumable: bool) -> None:
        """Send op 9; with ``resumable=False`` the session is forgotten (client re-IDENTIFYs)."""
        if self._current is None:
            return
        self._current.send({"op": 9, "d": resumable})
        self._current.live = False
        if not resumable:
            self.session = None

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs."""
        if self._current is not None:
            self._current.send({"op": 7, "d": None})
            self._current.live = False

    def release_ready(self) -> None:
        """Stop holding READY back and answer every IDENTIFY that is still waiting."""
        self.hold_ready = False
        held, self.held_identifies = self.held_identifies, []
        for conn, data in held:
            if not conn.ws.closed:
                self._identify(conn, data)
        self._on_change()

    async def close_all(self) -> None:
        for conn in self._all:
            if not conn.ws.closed:
                await conn.ws.close(code=1001)
            conn.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.writer

    # --- the websocket handler ------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_connections:
            self.refused_count += 1
            self._on_change()
            return web.Response(status=503, text="fake: gateway down")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws, request.path)
        self._all.append(conn)
        self.connect_count += 1
        self.connect_paths.append(request.path)
        conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        self._on_change()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                self._on_payload(conn, json.loads(msg.data))
        finally:
            conn.live = False
            if self._current is conn:
                self._current = None
            self._on_change()
        return ws

    def _on_payload(self, conn: _Connection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        self.received.append(payload)
        if op == 1:
            self.heartbeat_count += 1
            conn.send({"op": 11})
        elif op == 2 and isinstance(data, dict):
            self._identify(conn, data)
        elif op == 6 and isinstance(data, dict):
            self._resume(conn, data)
        elif op == 8 and isinstance(data, dict):
            self._chunk(data)
        self._on_change()

    def _reject(self, conn: _Connection, code: int, message: str) -> None:
        self.close_codes.append(code)
        conn.close(code, message)

    def _identify(self, conn: _Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self._token():
            self._reject(conn, AUTHENTICATION_FAILED, "Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            self._reject(conn, DISALLOWED_INTENTS, "Disallowed intent(s).")
            return
        if self.hold_ready:
            self.held_identifies.append((conn, data))
            return
        self.identify_count += 1
        self.session = GatewaySession(secrets.token_hex(16), intents)
        self._current = conn
        conn.live = True
        self.dispatch("READY", self._ready_payload(self.session.session_id))
        for guild in self._guild_payloads():
            self.dispatch("GUILD_CREATE", guild)

    def _resume(self, conn: _Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self._token():
            self._reject(conn, AUTHENTICATION_FAILED, "Authentication failed.")
            return
        session = self.session
        if session is None or data.get("session_id") != session.session_id:
            conn.send({"op": 9, "d": False})
            return
        self.resume_count += 1
        self._current = conn
        conn.live = True
        last = int(data.get("seq") or 0)
        for payload in session.log:
            if payload["s"] > last:
                conn.send(payload)
        self.dispatch("RESUMED", {})

    def _chunk(self, data: dict[str, Any]) -> None:
        guild_id = str(data.get("guild_id"))
        for guild in self._guild_payloads():
            if guild["id"] == guild_id:
                self.dispatch(
                    "GUILD_MEMBERS_CHUNK",
                    {
                        "guild_id": guild_id,
                        "members": guild["members"],
                        "chunk_index": 0,
                        "chunk_count": 1,
                        "nonce": data.get("nonce"),
                    },
                )
