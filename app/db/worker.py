"""A thread that runs blocking SQLite calls for the event loop, one call at a time.

Guild connections share a few of these instead of one thread each (aiosqlite's
model): with hundreds of open files, waking one of hundreds of threads per call
costs more than the call itself. A connection is bound to one worker for its
life, so its calls run in order, as aiosqlite guarantees.
"""
from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from app.errors import ManagerClosedError

T = TypeVar("T")

_STOP = object()


def _resolve(fut: asyncio.Future[Any], result: Any) -> None:
    if not fut.done():
        fut.set_result(result)


def _fail(fut: asyncio.Future[Any], error: BaseException) -> None:
    if not fut.done():
        fut.set_exception(error)


class Worker:
    """One daemon thread draining a queue of (future, function, args)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._stopped: asyncio.Future[None] | None = None
        self._stopping = False
        # Calls queued and calls finished: equal when the thread touches no connection. `_queued`
        # is written on the loop only, `_finished` on this thread only (each write is atomic).
        self._queued = self._finished = 0
        self.holds = 0  # files being opened beside it (see WorkerPool.hold)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            fut, fn, args = item
            try:
                result = fn(*args)
            except BaseException as error:  # handed to the awaiting coroutine
                self._finished += 1
                fut.get_loop().call_soon_threadsafe(_fail, fut, error)
            else:
                self._finished += 1
                fut.get_loop().call_soon_threadsafe(_resolve, fut, result)
        stopped = self._stopped
        if stopped is not None:
            stopped.get_loop().call_soon_threadsafe(_resolve, stopped, None)

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue `fn(*args)`; the returned future resolves on the caller's loop.

        Raises:
            ManagerClosedError: the worker was stopped (the call would never run).
        """
        if self._stopping:
            raise ManagerClosedError("the database manager is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued += 1
        self._queue.put((fut, fn, args))
        return fut

    @property
    def idle(self) -> bool:
        """True when no call is queued or running: no connection bound to this worker is in use on it.

        Read on the event loop. A call that finished but whose result is not delivered yet counts
        as done: the thread no longer touches its connection.
        """
        return self._queued == self._finished and not self.holds and not self._stopping

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def stop(self) -> None:
        """Finish queued calls, then end the thread without blocking the loop."""
        self._stopping = True
        if self._stopped is None:  # a second stop() waits for the first one's
            if not self._thread.is_alive():
                return
            self._stopped = asyncio.get_running_loop().create_future()
            self._queue.put(_STOP)
        await asyncio.shield(self._stopped)
        self._thread.join()


async def in_own_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run one long blocking call on a thread of its own, which ends with it.

    For rare heavy work (counting every row of a large file) that must neither hold the
    shared SQL thread nor leave an executor thread behind after shutdown.
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def call() -> None:
        try:
            result = fn(*args)
        except BaseException as error:
            loop.call_soon_threadsafe(_fail, fut, error)
        else:
            loop.call_soon_threadsafe(_resolve, fut, result)

    threading.Thread(target=call, name=f"guildshelf-{getattr(fn, '__name__', 'call')}", daemon=True).start()
    return await fut


class WorkerPool:
    """A fixed set of workers; a key always maps to the same worker."""

    def __init__(self, name: str, size: int) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        self._workers = [Worker(f"{name}-{i}") for i in range(size)]
        self._next = 0

    def for_key(self, key: int) -> Worker:
        return self._workers[key % len(self._workers)]

    def hold(self, delta: int) -> None:
        """Count a file being opened (+1) or done opening (-1): meanwhile no worker counts as idle.

        Statements then go through the worker and the loop waits in `epoll` instead of running them:
        an open on another thread needs the GIL many times, and a loop busy with inline statements
        made each open wait for it (churn ran 15-25 % slower inline than through the worker).
        """
        for worker in self._workers:
            worker.holds += delta

    def any(self) -> Worker:
        """Round-robin: for work that has no affinity (opening and closing files)."""
        self._next = (self._next + 1) % len(self._workers)
        return self._workers[self._next]

    async def stop(self) -> None:
        for worker in self._workers:
            await worker.stop()
