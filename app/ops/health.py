"""`/metrics` and `/healthz` on METRICS_HOST:METRICS_PORT (aiohttp, on the bot's own event loop).

`/healthz` answers 200 only when every shard's gateway connection is up and the bot-wide file answers a
query within HEALTH_TIMEOUT_S; otherwise 503 with the reason. `/metrics` is rendered on a thread:
measuring the guild folder must not hold the loop.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from app.db.worker import in_own_thread
from app.errors import ConfigurationError

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 2.0
Check = Callable[[], Awaitable[str | None]]  # None when healthy, else the reason


_reserved: dict[tuple[str, int], socket.socket] = {}


def reserve_metrics(host: str, port: int) -> None:
    """Bind METRICS_HOST:METRICS_PORT now and keep it for the OpsServer this process makes later (`run`, before
    the legacy split: a port in use stops the launch before anything changes, and nothing can take the port
    while the split runs).

    Raises:
        ConfigurationError: the address cannot be bound.
    """
    if (host, port) not in _reserved:
        _reserved[(host, port)] = bind_metrics(host, port)


def bind_metrics(host: str, port: int) -> socket.socket:
    """A listening socket on METRICS_HOST:METRICS_PORT.

    Raises:
        ConfigurationError: the address cannot be bound.
    """
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host.strip("[]"), port), family=family)
    except OSError as error:
        reason = os.strerror(error.errno).lower() if error.errno else str(error)
        raise ConfigurationError(f"METRICS_HOST:METRICS_PORT {host}:{port} cannot be used ({reason}); "
                                 "choose another port or stop what listens there.") from error


class OpsServer:
    """Binds at construction, serves from `await start()` to `await stop()`; `port` is the bound port.

    Binding first means a port already in use stops the bot before it connects, with one sentence,
    instead of leaving it running unwatched. Port 0 picks a free one (tests, the sandbox).

    Raises:
        ConfigurationError: METRICS_HOST:METRICS_PORT cannot be bound.
    """

    def __init__(self, registry: CollectorRegistry, check: Check, *, host: str, port: int) -> None:
        self._registry = registry
        self._check = check
        self.host = host
        self._sock: socket.socket | None = _reserved.pop((host, port), None) or bind_metrics(host, port)
        self.port = int(self._sock.getsockname()[1])
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._health)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        assert self._sock is not None, "start() after stop()"
        await web.SockSite(runner, self._sock).start()
        log.info("serving /metrics and /healthz on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    async def _metrics(self, _: web.Request) -> web.Response:
        body = await in_own_thread(generate_latest, self._registry)  # no executor thread outlives the bot
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, _: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                problem = await self._check()
        except TimeoutError:
            problem = f"the health check took longer than {HEALTH_TIMEOUT_S:g} s"
        if problem is None:
            return web.Response(text="ok\n")
        return web.Response(status=503, text=problem + "\n")
