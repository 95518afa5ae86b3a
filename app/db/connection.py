"""The connection handed to code that uses a database: aiosqlite's API on a shared worker.

`execute`, `execute_fetchall`, `executemany`, `executescript`, `commit`,
`rollback` behave as in aiosqlite (a statement outside a transaction commits on
its own). `transaction()` serializes writers of one guild and rolls back on error.
"""
from __future__ import annotations

import asyncio
import contextvars
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from app.db.worker import Worker
from app.errors import GuildDatabaseError

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]

# The transaction the current task (and the tasks it spawned) is inside, if any.
_current_tx: contextvars.ContextVar[_TxState | None] = contextvars.ContextVar("guildshelf_tx", default=None)


class _TxState:
    __slots__ = ("begun",)

    def __init__(self) -> None:
        self.begun = False


class Result:
    """A statement's outcome, fully fetched in the worker (one thread hop per statement)."""

    __slots__ = ("_pos", "description", "lastrowid", "rowcount", "rows")

    def __init__(self, rows: list[Any], lastrowid: int | None, rowcount: int,
                 description: Any) -> None:
        self.rows = rows
        self.lastrowid = lastrowid
        self.rowcount = rowcount
        self.description = description
        self._pos = 0

    async def fetchone(self) -> Any | None:
        if self._pos >= len(self.rows):
            return None
        self._pos += 1
        return self.rows[self._pos - 1]

    async def fetchmany(self, size: int = 1) -> list[Any]:
        chunk = self.rows[self._pos:self._pos + size]
        self._pos += len(chunk)
        return chunk

    async def fetchall(self) -> list[Any]:
        rest = self.rows[self._pos:]
        self._pos = len(self.rows)
        return rest

    async def close(self) -> None:
        """Nothing to release: kept for aiosqlite compatibility."""

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while (row := await self.fetchone()) is not None:
            yield row

    async def __aenter__(self) -> Result:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _PendingResult:
    """What `execute` returns: awaitable, and usable as `async with db.execute(...) as cur`."""

    __slots__ = ("_coro",)

    def __init__(self, coro: Any) -> None:
        self._coro = coro

    def __await__(self) -> Generator[Any, None, Result]:
        return self._coro.__await__()

    async def __aenter__(self) -> Result:
        result: Result = await self._coro
        return result

    async def __aexit__(self, *exc: object) -> None:
        return None


def _begin_deferred(conn: sqlite3.Connection, tx: _TxState | None) -> None:
    """A transaction's BEGIN IMMEDIATE goes out with its first statement (one thread hop fewer)."""
    if tx is not None and not tx.begun:
        conn.execute("BEGIN IMMEDIATE")
        tx.begun = True


def _run_statement(conn: sqlite3.Connection, tx: _TxState | None, sql: str, params: Params) -> Result:
    _begin_deferred(conn, tx)
    cur = conn.execute(sql, params)
    rows = cur.fetchall()
    return Result(rows, cur.lastrowid, cur.rowcount, cur.description)


def _run_many(conn: sqlite3.Connection, tx: _TxState | None, sql: str, rows: list[Params]) -> Result:
    _begin_deferred(conn, tx)
    cur = conn.executemany(sql, rows)
    return Result([], cur.lastrowid, cur.rowcount, None)


def _finish(conn: sqlite3.Connection, verb: str) -> None:
    conn.execute(verb)


class Database:
    """One open SQLite file, driven from the event loop through a worker thread."""

    __slots__ = ("_conn", "_idle", "_lock", "_tx", "_worker", "path")

    def __init__(self, conn: sqlite3.Connection, *, path: Path, worker: Worker,
                 lock: asyncio.Lock) -> None:
        self._conn = conn
        self._worker = worker
        self._lock = lock  # shared by every connection to the same file
        self._tx: _TxState | None = None  # the transaction open on this connection
        self._idle = asyncio.Event()
        self._idle.set()
        self.path = path

    # -- statements -------------------------------------------------------
    async def _await_turn(self) -> _TxState | None:
        """Statements of other tasks wait while a transaction is open on this connection."""
        mine = _current_tx.get()
        while self._tx is not None and self._tx is not mine:
            await self._idle.wait()
        return self._tx

    async def _execute(self, sql: str, params: Params) -> Result:
        tx = self._tx
        if tx is not None and tx is not _current_tx.get():  # the hot path skips a coroutine
            tx = await self._await_turn()
        return await self._worker.submit(_run_statement, self._conn, tx, sql, params)

    def execute(self, sql: str, params: Params = ()) -> _PendingResult:
        """Run one statement; the result is fetched already."""
        return _PendingResult(self._execute(sql, params))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        return (await self._execute(sql, params)).rows

    async def execute_fetchone(self, sql: str, params: Params = ()) -> Any | None:
        rows = (await self._execute(sql, params)).rows
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Iterable[Params]) -> Result:
        tx = await self._await_turn()
        return await self._worker.submit(_run_many, self._conn, tx, sql, list(rows))

    async def executescript(self, script: str) -> None:
        """Run a script in autocommit mode (refused inside a transaction: sqlite3 would commit it)."""
        if _current_tx.get() is not None:
            raise GuildDatabaseError("executescript cannot run inside db.transaction()")
        await self._await_turn()
        await self._worker.submit(self._conn.executescript, script)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(raw_connection)` on this connection's worker, for the backup API and bulk work."""
        await self._await_turn()
        return await self._worker.submit(fn, self._conn)

    async def commit(self) -> None:
        """No-op outside a transaction (statements autocommit); kept for aiosqlite compatibility."""
        if self._conn.in_transaction and self._tx is None:
            await self._worker.submit(_finish, self._conn, "COMMIT")

    async def rollback(self) -> None:
        if self._conn.in_transaction and self._tx is None:
            await self._worker.submit(_finish, self._conn, "ROLLBACK")

    # -- transactions -----------------------------------------------------
    def transaction(self) -> Transaction:
        """`async with db.transaction():` BEGIN IMMEDIATE … COMMIT, ROLLBACK on error."""
        return Transaction(self)

    async def _begin(self) -> tuple[_TxState, contextvars.Token[_TxState | None]]:
        if _current_tx.get() is not None:
            raise GuildDatabaseError("db.transaction() cannot be nested")
        await self._lock.acquire()  # held for the whole transaction, so no other one is open here
        state = _TxState()
        self._tx = state
        self._idle.clear()
        return state, _current_tx.set(state)

    async def _end(self, state: _TxState, token: contextvars.Token[_TxState | None], ok: bool) -> None:
        try:
            if state.begun:
                try:
                    await self._worker.submit(_finish, self._conn, "COMMIT" if ok else "ROLLBACK")
                except BaseException:
                    if ok and self._conn.in_transaction:
                        await self._worker.submit(_finish, self._conn, "ROLLBACK")
                    raise
        finally:
            _current_tx.reset(token)
            self._tx = None
            self._idle.set()
            self._lock.release()

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection, for code that runs on the worker (see `run`)."""
        return self._conn


class Transaction:
    """Async context manager of `Database.transaction()`; BEGIN goes out with the first statement."""

    __slots__ = ("_db", "_state", "_token")

    def __init__(self, db: Database) -> None:
        self._db = db

    async def __aenter__(self) -> Database:
        self._state, self._token = await self._db._begin()
        return self._db

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._db._end(self._state, self._token, ok=exc_type is None)


class GuildDb(Database):
    """The connection to one guild's file: the only one a command of that guild can reach."""

    __slots__ = ("guild_id",)

    def __init__(self, conn: sqlite3.Connection, *, guild_id: int, path: Path, worker: Worker,
                 lock: asyncio.Lock) -> None:
        super().__init__(conn, path=path, worker=worker, lock=lock)
        self.guild_id = guild_id


class BotDb(Database):
    """The connection to the bot-wide file (registry, media cache, receipts, settings)."""

    __slots__ = ()
