"""What every local double shares: an aiohttp app served on 127.0.0.1 on a free port."""
from __future__ import annotations

import abc
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Serve `app` on 127.0.0.1 (never any other address) and a port the system picks."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def serve(self, app: web.Application, *, shutdown_timeout: float = 0.5) -> int:
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class Served(abc.ABC):
    """`async with Double() as double:` for a double with `start()` and `stop()`."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Build the double's app and serve it (each double has its own routes)."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop serving; requests under way end."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
