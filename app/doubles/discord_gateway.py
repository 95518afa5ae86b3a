"""The double's gateway: HELLO, IDENTIFY → READY, heartbeats, RESUME, op 7, dispatches, zlib-stream compressed.

A session outlives its connection: while a resumable session has no connection, its events wait
(up to REPLAY_BUFFER of them) and a RESUME (op 6) replays those after the sequence the client saw.
A connection that stops heartbeating is closed (4009), as Discord closes zombied connections.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import time
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41_250
HEARTBEAT_GRACE = 1.5  # intervals without a heartbeat before the connection is closed
REPLAY_BUFFER = 1_000
NOT_RESUMABLE = (None, 1000, 1001, 4004, 4009, 4010, 4011, 4012, 4013, 4014)


class GatewaySession:
    """A shard's session: sequence number, intents, the events sent, and its current connection."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()  # compressed frames must go out in the order they were compressed
        self.seq = 0
        self.intents = 0
        self.session_id = f"session-{secrets.token_hex(8)}"
        self.identified = asyncio.Event()
        self.sent: collections.deque[dict[str, Any]] = collections.deque(maxlen=REPLAY_BUFFER)
        self.end_code: int | None = None  # who closed the connection, with which code (resumable or not)

    async def close(self, code: int, message: bytes) -> None:
        self.end_code = code
        await self.ws.close(code=code, message=message)

    def attach(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        """A RESUME moved this session onto a new connection."""
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None

    async def send(self, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        async with self._lock:
            if self.ws.closed:
                return
            if self._compressor is None:
                await self.ws.send_str(raw.decode())
            else:
                await self.ws.send_bytes(self._compressor.compress(raw) + self._compressor.flush(zlib.Z_SYNC_FLUSH))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.sent.append(payload)
        await self.send(payload)


class Gateway:
    """Accepts shard connections; `on_identify(session)` returns the READY payload and what follows it."""

    def __init__(self, token: str, on_identify: Callable[[GatewaySession], list[tuple[str, dict[str, Any]]]],
                 *, refuse_intents: int = 0,
                 on_request_members: Callable[[GatewaySession, dict[str, Any]], list[dict[str, Any]]] | None = None
                 ) -> None:
        self._token = token
        self._on_identify = on_identify
        self._on_request_members = on_request_members
        self.refuse_intents = refuse_intents  # e.g. GUILD_MEMBERS not enabled in the Developer Portal
        self.sessions: set[GatewaySession] = set()  # identified and connected now
        self.resumable: dict[str, GatewaySession] = {}  # by session id, connected or waiting for a RESUME
        self.identifies = 0
        self.resumes = 0
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS
        self.open = asyncio.Event()  # cleared by `hold()`: new connections wait
        self.open.set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        await self.open.wait()
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        session = GatewaySession(ws, compress=compress)
        await session.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            session = await self._serve(session, ws, compress=compress)
        except Exception:
            log.exception("the double's gateway failed")
            raise
        finally:
            self.sessions.discard(session)
            if session.ws is ws and (session.end_code in NOT_RESUMABLE or not session.identified.is_set()):
                self.resumable.pop(session.session_id, None)
        return ws

    async def _serve(self, session: GatewaySession, ws: web.WebSocketResponse, *, compress: bool) -> GatewaySession:
        """Read until the connection closes; close it if heartbeats stop. Returns the session it ended up on."""
        grace = self.heartbeat_interval_ms / 1000 * HEARTBEAT_GRACE
        deadline = time.monotonic() + grace
        while not ws.closed:
            try:
                msg = await ws.receive(timeout=max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                await session.close(4009, b"Session timed out.")
                break
            if msg.type == WSMsgType.CLOSE and session.end_code is None:
                session.end_code = int(msg.data)
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                continue
            payload = json.loads(msg.data)
            if payload.get("op") == 1:
                deadline = time.monotonic() + grace
            if payload.get("op") == 6:
                session = await self._resume(session, ws, payload["d"], compress=compress)
            else:
                await self._receive(session, payload)
        return session

    async def _receive(self, session: GatewaySession, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == 1:
            await session.send({"op": 11})
        elif op == 2:
            await self._identify(session, payload["d"])
        elif op == 8 and self._on_request_members is not None:
            try:
                chunks = self._on_request_members(session, payload["d"])
            except ValueError:  # Discord closes the connection on a request the intents do not allow
                await session.close(4013, b"Invalid intent(s).")
                return
            for chunk in chunks:
                await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _resume(self, fresh: GatewaySession, ws: web.WebSocketResponse, data: dict[str, Any], *,
                      compress: bool) -> GatewaySession:
        """op 6: replay what the session missed after `seq`, then RESUMED; op 9 if it cannot resume."""
        old = self.resumable.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        token_ok = str(data.get("token", "")).removeprefix("Bot ") == self._token
        if old is None or not token_ok or (old.sent and seq < old.sent[0]["s"] - 1):
            await fresh.send({"op": 9, "d": False})
            return fresh
        if not old.ws.closed:
            await old.close(4000, b"Resumed elsewhere.")
        old.attach(ws, compress=compress)
        old.end_code = None
        old._compressor = fresh._compressor  # HELLO went out through this connection's compressor
        self.resumes += 1
        for payload in [p for p in old.sent if p["s"] > seq]:
            await old.send(payload)
        await old.dispatch("RESUMED", {})
        self.sessions.add(old)
        return old

    async def _identify(self, session: GatewaySession, data: dict[str, Any]) -> None:
        if data.get("token", "").removeprefix("Bot ") != self._token:
            await session.close(4004, b"Authentication failed.")
            return
        self.identifies += 1
        session.intents = int(data.get("intents", 0))
        if session.intents & self.refuse_intents:
            await session.close(4014, b"Disallowed intent(s).")
            return
        for event, body in self._on_identify(session):
            await session.dispatch(event, body)
        self.sessions.add(session)
        self.resumable[session.session_id] = session
        session.identified.set()

    async def broadcast(self, event: str, data: dict[str, Any], *, intent: int = 0) -> int:
        """Send a dispatch to every session that asked for `intent` (0: always); a disconnected one keeps it."""
        sent = 0
        for session in list(self.resumable.values()):
            if intent and not session.intents & intent:
                continue
            await session.dispatch(event, data)
            sent += 1
        return sent

    async def reconnect(self) -> None:
        """op 7 RECONNECT to every connection: the client reconnects and resumes."""
        for session in list(self.sessions):
            await session.send({"op": 7, "d": None})

    async def drop(self, *, hold: bool = False) -> None:
        """Close every connection as a network failure would (resumable); with hold, new ones wait for release()."""
        if hold:
            self.open.clear()
        for session in list(self.sessions):
            await session.close(4000, b"Unknown error.")

    def release(self) -> None:
        self.open.set()

    async def close(self) -> None:
        self.open.set()
        for session in list(self.sessions):
            await session.close(1001, b"double shutting down")
        self.resumable.clear()
