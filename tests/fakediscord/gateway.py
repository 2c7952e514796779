"""The fake gateway: HELLO, heartbeats, IDENTIFY/READY, RESUME with replay, and on-demand faults.

One session per shard: a client that IDENTIFYs with ``shard: [shard_id, shard_count]`` gets a
session of its own, whose READY carries ``shard`` and lists only the guilds Discord would route
to it (``(guild_id >> 22) % shard_count == shard_id``); every guild dispatch goes to the
session of the guild's shard, the rest (DMs) to shard 0. An IDENTIFY without ``shard`` is
shard 0 of 1 (every guild). Every dispatch is numbered and logged per session so a RESUME after
a dropped connection replays exactly the events the client missed. Frames go out through one
writer task per connection, so injections can be synchronous and still stay in order.
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
#: IDENTIFY with a ``shard`` Discord cannot accept.
INVALID_SHARD = 4010
#: Dispatches about a whole guild carry its id as ``id``, not ``guild_id``.
_GUILD_EVENTS = ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE")

_CLOSE = object()


@dataclass
class GatewaySession:
    session_id: str
    intents: int
    shard_id: int = 0
    shard_count: int = 1
    #: True when the client sent ``shard`` (READY then echoes it back).
    sharded: bool = False
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    def receives(self, guild_id: int | None) -> bool:
        """Discord's routing: a guild's shard, and shard 0 for everything outside guilds."""
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id


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
        #: The live session of each shard (shard 0 is the only one of an unsharded client).
        self.sessions: dict[int, GatewaySession] = {}
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
        #: The connection each shard's dispatches go to.
        self._current: dict[int, _Connection] = {}
        self._all: list[_Connection] = []
        #: While True, new connections are answered 503 (an outage); live ones are kept.
        self.refuse_connections = False
        #: Connections refused because of ``refuse_connections``.
        self.refused_count = 0

    @property
    def session(self) -> GatewaySession | None:
        """Shard 0's session (the only one of an unsharded client)."""
        return self.sessions.get(0) or next(iter(self.sessions.values()), None)

    @property
    def ready(self) -> bool:
        """True while every shard that identified holds a live connection."""
        return bool(self.sessions) and all(self.shard_ready(i) for i in self.sessions)

    def shard_ready(self, shard_id: int) -> bool:
        """True while shard ``shard_id`` holds a live (identified or resumed) connection."""
        conn = self._current.get(shard_id)
        return conn is not None and conn.live

    def _shard_ids(self, shard_id: int | None) -> list[int]:
        return list(self._current) if shard_id is None else [shard_id]

    # --- dispatching ----------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0) -> int | None:
        """Number, log and (if connected) send an event to the shard that owns its guild.

        Returns the sequence number, or None when no session wants the event.
        """
        guild_id = _guild_of(event, data)
        seq = None
        for shard_id, session in self.sessions.items():
            if not session.receives(guild_id) or (intent and not session.intents & intent):
                continue
            session.seq += 1
            payload = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.log.append(payload)
            conn = self._current.get(shard_id)
            if conn is not None and conn.live:
                conn.send(payload)
            seq = session.seq if seq is None else seq
        return seq

    # --- faults ---------------------------------------------------------------------------

    def drop(self, code: int = RESUMABLE_CLOSE, *, shard_id: int | None = None) -> None:
        """Close live connections (one shard's, or all) with a resumable code: RESUME follows."""
        for shard in self._shard_ids(shard_id):
            conn = self._current.pop(shard, None)
            if conn is not None:
                self.close_codes.append(code)
                conn.close(code, "fake: dropped")

    def invalidate_session(self, *, resumable: bool, shard_id: int | None = None) -> None:
        """Send op 9; with ``resumable=False`` the session is forgotten (client re-IDENTIFYs)."""
        for shard in self._shard_ids(shard_id):
            conn = self._current.get(shard)
            if conn is None:
                continue
            conn.send({"op": 9, "d": resumable})
            conn.live = False
            if not resumable:
                self.sessions.pop(shard, None)

    def request_reconnect(self, *, shard_id: int | None = None) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs."""
        for shard in self._shard_ids(shard_id):
            conn = self._current.get(shard)
            if conn is not None:
                conn.send({"op": 7, "d": None})
                conn.live = False

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
            for shard_id, current in list(self._current.items()):
                if current is conn:
                    del self._current[shard_id]
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
        shard = _shard(data.get("shard"))
        if shard is None:
            self._reject(conn, INVALID_SHARD, "Invalid shard.")
            return
        if self.hold_ready:
            self.held_identifies.append((conn, data))
            return
        self.identify_count += 1
        shard_id, shard_count = shard
        session = GatewaySession(
            secrets.token_hex(16),
            intents,
            shard_id=shard_id,
            shard_count=shard_count,
            sharded="shard" in data,
        )
        self.sessions[shard_id] = session
        self._current[shard_id] = conn
        conn.live = True
        ready = self._ready_payload(session.session_id)
        ready["guilds"] = [g for g in ready["guilds"] if session.receives(int(g["id"]))]
        if session.sharded:
            ready["shard"] = [shard_id, shard_count]
        self.dispatch_to(session, "READY", ready)
        for guild in self._guild_payloads():
            if session.receives(int(guild["id"])):
                self.dispatch_to(session, "GUILD_CREATE", guild)

    def dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        """Number, log and send an event to one session (READY and its GUILD_CREATEs)."""
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(payload)
        conn = self._current.get(session.shard_id)
        if conn is not None and conn.live:
            conn.send(payload)

    def _resume(self, conn: _Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self._token():
            self._reject(conn, AUTHENTICATION_FAILED, "Authentication failed.")
            return
        session = next(
            (s for s in self.sessions.values() if s.session_id == data.get("session_id")), None
        )
        if session is None:
            conn.send({"op": 9, "d": False})
            return
        self.resume_count += 1
        self._current[session.shard_id] = conn
        conn.live = True
        last = int(data.get("seq") or 0)
        for payload in session.log:
            if payload["s"] > last:
                conn.send(payload)
        self.dispatch_to(session, "RESUMED", {})

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


def _guild_of(event: str, data: dict[str, Any]) -> int | None:
    """The guild a dispatch is about (which decides its shard), None outside guilds."""
    raw = data.get("id") if event in _GUILD_EVENTS else data.get("guild_id")
    return int(raw) if raw else None


def _shard(raw: Any) -> tuple[int, int] | None:
    """IDENTIFY's ``shard`` as (id, count); (0, 1) when absent; None when Discord refuses it."""
    if raw is None:
        return 0, 1
    if not (isinstance(raw, list) and len(raw) == 2 and all(type(v) is int for v in raw)):
        return None
    shard_id, count = raw
    return (shard_id, count) if 0 <= shard_id < count else None
