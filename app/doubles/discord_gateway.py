"""The double's gateway: HELLO, IDENTIFY → READY, heartbeats, and dispatches, zlib-stream compressed."""
from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41_250


class GatewaySession:
    """One websocket connection of a shard: its compressor, sequence number and intents."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()  # compressed frames must go out in the order they were compressed
        self.seq = 0
        self.intents = 0
        self.identified = asyncio.Event()

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
        await self.send({"op": 0, "t": event, "s": self.seq, "d": data})


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
        self.sessions: set[GatewaySession] = set()
        self.identifies = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = GatewaySession(ws, compress=request.query.get("compress") == "zlib-stream")
        await session.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                await self._receive(session, json.loads(msg.data))
        except Exception:
            log.exception("the double's gateway failed")
            raise
        finally:
            self.sessions.discard(session)
        return ws

    async def _receive(self, session: GatewaySession, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == 1:
            await session.send({"op": 11})
        elif op == 2:
            await self._identify(session, payload["d"])
        elif op == 6:  # no resume: ask for a fresh session
            await session.send({"op": 9, "d": False})
        elif op == 8 and self._on_request_members is not None:
            try:
                chunks = self._on_request_members(session, payload["d"])
            except ValueError:  # Discord closes the connection on a request the intents do not allow
                await session.ws.close(code=4013, message=b"Invalid intent(s).")
                return
            for chunk in chunks:
                await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _identify(self, session: GatewaySession, data: dict[str, Any]) -> None:
        if data.get("token", "").removeprefix("Bot ") != self._token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identifies += 1
        session.intents = int(data.get("intents", 0))
        if session.intents & self.refuse_intents:
            await session.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        for event, body in self._on_identify(session):
            await session.dispatch(event, body)
        self.sessions.add(session)
        session.identified.set()

    async def broadcast(self, event: str, data: dict[str, Any], *, intent: int = 0) -> int:
        """Send a dispatch to every identified session that asked for `intent` (0: always)."""
        sent = 0
        for session in list(self.sessions):
            if intent and not session.intents & intent:
                continue
            await session.dispatch(event, data)
            sent += 1
        return sent

    async def close(self) -> None:
        for session in list(self.sessions):
            await session.ws.close(code=1001, message=b"double shutting down")
