"""The connection handed to code that uses a database: aiosqlite's API on a shared worker.

`execute`, `execute_fetchall`, `executemany`, `executescript`, `commit`,
`rollback` behave as in aiosqlite (a statement outside a transaction commits on
its own). `transaction()` serializes writers of one guild and rolls back on error.

Lock waits never sleep on the shared worker: connections have no busy timeout, and a
statement that finds the file locked (by another process) is retried from the event
loop with a backoff, so one guild's wait never delays another's statements.

Short statements run inline, on the event loop's thread, when the connection's worker is
idle: a thread hop costs twenty times a point read. The loop is never held for long: an
inline statement runs under a budget of `INLINE_VM_STEPS` SQLite VM steps (a progress
handler interrupts it) and never waits for a lock (busy timeout 0); interrupted or busy,
it goes to the worker as before. Only queries and row changes run inline (no PRAGMA,
VACUUM, BEGIN or COMMIT statement). Inside a transaction that already holds changes only
`SELECT`s run inline (an interrupted write would roll back the whole transaction); its first
change may, after reads that all ran inline: interrupted, the worker begins the transaction
again and goes on only if the file's `data_version` shows that nothing changed meanwhile. COMMIT
runs inline only if every statement of the transaction did. Nothing on the loop
can fsync: with `synchronous=NORMAL` a WAL commit only writes, and checkpoints (SQLite's
automatic one is off) run on the worker once the `-wal` passes `WAL_CHECKPOINT_BYTES`.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from app.db.checkpoint import checkpoint_truncate
from app.db.worker import Worker
from app.errors import DatabaseBusyError, GuildDatabaseError, ManagerClosedError

log = logging.getLogger(__name__)

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]

# The transactions the current task (and the tasks it spawned) is inside: one per file at most.
_current_tx: contextvars.ContextVar[tuple[_TxState, ...]] = contextvars.ContextVar("guildshelf_tx", default=())

BUSY_FIRST_WAIT = 0.001  # a lock wait is retried from the loop after this, doubling up to:
BUSY_MAX_WAIT = 0.05
INLINE_VM_STEPS = 20_000  # an inline statement's budget (a point read is ~40 steps, an upsert ~60)
INLINE_TX_STATEMENTS = 32  # a transaction with more statements commits on the worker (bounded WAL write)
WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024  # SQLite's default autocheckpoint point (1,000 pages of 4 KiB)
INLINE_SLICE_S = 0.0001  # inline statements' time in a turn after which the next one lets the loop run the rest
WAL_CHECK_EVERY = 8  # inline commits between two looks at the -wal's size (a stat costs a quarter of a read)
_SQLITE_INTERRUPT = 9


class _TxState:
    """One `db.transaction()`; `open` is cleared on the worker when it ends, so nothing late reopens it."""

    __slots__ = ("changed", "inline", "lock", "open", "version")

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        self.open = True
        self.inline = 0  # statements run inline so far; -1 once one went to the worker
        self.changed = False  # a write of it was tried inline (it may have changed rows even if it failed)
        self.version: int | None = None  # the file's data_version its reads saw, when its first write ran inline


class _Budget:
    """The progress handler of an inline statement: called every `steps / CALLS` VM steps, it stops the
    statement at its `CALLS`-th call.

    SQLite counts a prepared statement's steps across its runs, so the first call of a run comes after
    anywhere between 1 and `steps / CALLS` steps: stopping at the first call would interrupt cheap
    statements now and then. Counted per statement, the budget is between 3/4 and all of `steps`.
    """

    CALLS = 4
    __slots__ = ("calls", "period")

    def __init__(self, steps: int) -> None:
        self.period = max(steps // self.CALLS, 1)
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls >= self.CALLS


class _Slice:
    """How long the event loop has run inline statements in its current turn.

    Statements on the worker always gave the loop a turn; inline ones never do, so a task that
    runs many in a row would starve every other task. `reset` is queued on the loop at the
    first inline statement and runs at its next turn; until then each inline statement adds its
    time. Only the statements' own time counts: the turn's other callbacks (a busy bot's REST and
    gateway work) are not this module's to bound.
    """

    __slots__ = ("queued", "spent")

    def __init__(self) -> None:
        self.spent = 0.0
        self.queued = False

    def reset(self) -> None:
        self.queued = False


_slices: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slice] = weakref.WeakKeyDictionary()


def _loop_slice() -> _Slice:
    loop = asyncio.get_running_loop()
    current = _slices.get(loop)
    if current is None:
        current = _slices[loop] = _Slice()
    if not current.queued:
        current.queued = True
        current.spent = 0.0
        loop.call_soon(current.reset)
    return current


def _charge_slice(started: float) -> None:
    """Add the inline statement begun at `started` (`time.perf_counter()`) to the loop's current slice."""
    _loop_slice().spent += time.perf_counter() - started


_INLINE_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"})


def _verb(sql: str) -> str:
    """The statement's first word, upper-cased: only plain queries and row changes may run inline
    (a PRAGMA may checkpoint and fsync, VACUUM rewrites the file, BEGIN/COMMIT belong to the worker's
    bookkeeping)."""
    head = sql.lstrip()[:8].upper()
    for verb in _INLINE_VERBS:
        if head.startswith(verb):
            return verb
    return ""


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF == sqlite3.SQLITE_BUSY


_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_PRAGMA,
                           sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT, sqlite3.SQLITE_RECURSIVE})


class _WriteProbe:
    """The authorizer of a read-only copy: counts statements that would write, even those whose error a
    caller swallowed (`query_only` refuses them; this notices them). PRAGMAs count as reads."""

    __slots__ = ("writes",)

    def __init__(self) -> None:
        self.writes = 0

    def __call__(self, action: int, *_: object) -> int:
        if action not in _READ_ACTIONS:
            self.writes += 1
        return sqlite3.SQLITE_OK


def _refused_write(error: BaseException) -> bool:
    return (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF == sqlite3.SQLITE_READONLY


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
    """A transaction's BEGIN IMMEDIATE goes out with its first statement (one thread hop fewer).

    Decided here, on the worker, from the connection's own state: a statement queued by a
    task that was cancelled meanwhile still runs inside its transaction, before its ROLLBACK.

    Begun again after SQLite rolled it back (an inline write interrupted, see `_inline`), the
    transaction goes on only if no other program changed the file meanwhile: its reads still hold.

    Raises:
        DatabaseBusyError: the file changed between the rollback and the new BEGIN.
    """
    if tx is not None and tx.open and not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
        if tx.version is not None and conn.execute("PRAGMA data_version").fetchone()[0] != tx.version:
            conn.execute("ROLLBACK")
            raise DatabaseBusyError("This server's data changed meanwhile; try again in a moment.")


def _run_statement(conn: sqlite3.Connection, tx: _TxState | None, sql: str, params: Params,
                   budget: _Budget | None = None) -> Result:
    """The statement, its transaction's BEGIN first; with a `budget` (inline, on the loop) the statement
    alone runs under it: neither the BEGIN nor the clean-up can be interrupted."""
    _begin_deferred(conn, tx)
    was_open = conn.in_transaction
    try:
        if budget is not None:
            budget.calls = 0
            conn.set_progress_handler(budget, budget.period)
        try:
            cur = conn.execute(sql, params)
            rows = cur.fetchall()
        finally:
            if budget is not None:
                conn.set_progress_handler(None, 0)
    except sqlite3.OperationalError:
        # An autocommit statement whose COMMIT met a lock (or an interrupt) leaves its changes pending
        # in an open transaction: undo them, so that the retry (or the worker, after an inline try)
        # applies the statement once, not twice.
        if not was_open and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return Result(rows, cur.lastrowid, cur.rowcount, cur.description)


def _run_many(conn: sqlite3.Connection, tx: _TxState | None, sql: str, rows: list[Params]) -> Result:
    """All rows or none: outside a transaction they get their own, so a lock wait is met at BEGIN,
    before any row, and the retry cannot apply the first rows twice."""
    _begin_deferred(conn, tx)
    if conn.in_transaction:
        cur = conn.executemany(sql, rows)
        return Result([], cur.lastrowid, cur.rowcount, None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        cur = conn.executemany(sql, rows)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return Result([], cur.lastrowid, cur.rowcount, None)


def _run_function(conn: sqlite3.Connection, tx: _TxState | None, fn: Callable[[sqlite3.Connection], T]) -> T:
    """`fn(conn)`; a lock wait after it changed rows is not retried (it would do them twice)."""
    _begin_deferred(conn, tx)
    changes = conn.total_changes
    try:
        return fn(conn)
    except sqlite3.OperationalError as error:
        if _is_busy(error) and conn.total_changes != changes:
            raise DatabaseBusyError("This server's data is busy right now; try again in a moment.") from error
        raise


def _finish(conn: sqlite3.Connection, verb: str) -> None:
    conn.execute(verb)


def _end_transaction(conn: sqlite3.Connection, tx: _TxState, commit: bool) -> None:
    """COMMIT (or ROLLBACK) whatever the transaction's statements left open; a failed COMMIT rolls back."""
    tx.open = False
    if not conn.in_transaction:
        return
    if not commit:
        conn.execute("ROLLBACK")
        return
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


async def _settle(fut: asyncio.Future[T]) -> T:
    """Await work the worker does anyway; a cancellation meanwhile is re-raised once it is done."""
    cancelled = False
    while not fut.done():
        try:
            await asyncio.wait((fut,))
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        fut.exception()  # retrieved: the commit may or may not have happened, as with any cancelled await
        raise asyncio.CancelledError
    return fut.result()


class Database:
    """One open SQLite file, driven from the event loop through a worker thread."""

    __slots__ = ("_budget", "_building", "_busy_timeout", "_checkpoint_at", "_commits", "_conn", "_idle",
                 "_inline_steps",
                 "_lock", "_make_file", "_probe", "_tx", "_wal", "_worker", "path")

    def __init__(self, conn: sqlite3.Connection, *, path: Path, worker: Worker,
                 lock: asyncio.Lock, busy_timeout: float = 5.0, inline_steps: int = INLINE_VM_STEPS,
                 make_file: Callable[[], Awaitable[sqlite3.Connection]] | None = None) -> None:
        """`conn` comes from `files.open_file` with options of the same `inline_vm_steps`: with inline statements
        it has SQLite's automatic checkpoint off (a commit on the loop must never fsync), set there, not on the loop.

        `make_file`: `conn` is a read-only copy standing for a file not built yet; this builds and opens it.
        """
        self._conn = conn
        self._worker = worker
        self._lock = lock  # shared by every connection to the same file
        self._busy_timeout = busy_timeout
        self._inline_steps = inline_steps  # 0: every statement goes to the worker
        self._budget = _Budget(inline_steps)
        self._tx: _TxState | None = None  # the transaction open on this connection
        self._idle = asyncio.Event()
        self._idle.set()
        self.path = path
        self._wal = f"{path}-wal"
        self._checkpoint_at = WAL_CHECKPOINT_BYTES  # the -wal size that triggers the next checkpoint
        self._commits = 0
        self._make_file = make_file
        self._building: asyncio.Future[None] | None = None
        self._probe: _WriteProbe | None = None
        if make_file is not None:
            self._probe = _WriteProbe()
            conn.set_authorizer(self._probe)

    # -- a guild never written: a read-only copy until its first write -----------
    @property
    def is_copy(self) -> bool:
        """True while the connection is a read-only in-memory copy of a file not built yet."""
        return self._probe is not None

    async def ensure_file(self) -> None:
        """Before a write on a copy: build the file (once, however many tasks ask) and move onto it.

        A cancelled caller does not stop the build: the file is then built and in use, or not built at all.
        """
        if self._probe is None:
            return
        if self._building is None:
            self._building = asyncio.ensure_future(self._move_to_file())
            self._building.add_done_callback(lambda fut: fut.cancelled() or fut.exception())
        await asyncio.shield(self._building)

    async def _move_to_file(self) -> None:
        assert self._make_file is not None
        try:
            conn = await self._make_file()
        except BaseException:
            self._building = None  # the next write tries again
            raise
        copy, self._conn, self._probe = self._conn, conn, None
        try:
            self._worker.submit(copy.close)  # after any call still queued on the copy
        except ManagerClosedError:
            copy.close()

    async def settled(self) -> None:
        """Wait for a file build under way (its connection, then, is the one to close); never raises."""
        if self._building is not None:
            await asyncio.wait((self._building,))

    async def close_copy(self) -> None:
        """Close the read-only copy, after any call still queued on it."""
        await self._submit(self._conn.close)

    async def _on_copy(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` on the copy; if it tried to write, build the file and run it again there.

        The probe sees a write even when its error was swallowed. Calls share the probe, so a
        read may be blamed for another call's write: it then runs twice, and no write is lost.
        """
        assert self._probe is not None
        if self.path.exists():  # built meanwhile by another program (a restore, the CLI): read it, not the copy
            await self.ensure_file()
            return await call()
        probe, before = self._probe, self._probe.writes
        try:
            result = await call()
        except Exception as error:
            if probe.writes == before and not _refused_write(error):
                raise
        else:
            if probe.writes == before:
                return result
        await self.ensure_file()
        return await call()

    async def _execute_on_copy(self, sql: str, params: Params) -> Result:
        if _verb(sql) not in ("SELECT", "WITH"):  # a PRAGMA may set the connection: on the file, not the copy
            await self.ensure_file()
            return await self._execute(sql, params)
        return await self._on_copy(lambda: self._execute(sql, params))

    # -- statements -------------------------------------------------------
    async def _await_turn(self) -> _TxState | None:
        """Statements of other tasks wait while a transaction is open on this connection."""
        while self._tx is not None and self._tx not in _current_tx.get():
            await self._bounded_if_holding(self._idle.wait())
        return self._tx

    async def _bounded_if_holding(self, wait: Coroutine[Any, Any, Any]) -> None:
        """Await `wait`; a task inside another file's transaction waits at most the busy timeout.

        Two tasks taking a guild's and the bot-wide file's transactions in opposite orders
        would otherwise wait for each other forever (another process's lock gives up the same way).

        Raises:
            DatabaseBusyError: the wait took longer than the busy timeout.
        """
        if not any(state.open for state in _current_tx.get()):
            await wait
            return
        try:
            await asyncio.wait_for(wait, self._busy_timeout)
        except TimeoutError:
            raise DatabaseBusyError("This server's data is busy right now; try again in a moment.") from None

    def _submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue `fn(*args)` on the worker; a transaction with work there commits there too."""
        if self._tx is not None:
            self._tx.inline = -1
        return self._worker.submit(fn, *args)

    def _inline(self, tx: _TxState | None, sql: str, params: Params) -> Result | None:
        """Run the statement on the loop's thread if that is safe and short; None if it must go to the worker.

        Only when the worker is idle (nothing else uses the connection, and the cancellation
        guarantees of queued calls are untouched), under a budget of VM steps, with no lock wait.
        """
        if not self._inline_steps or not self._worker.idle:
            return None
        verb = _verb(sql)
        if not verb:
            return None
        conn = self._conn
        in_tx = conn.in_transaction
        writes = verb != "SELECT"  # (a WITH may end in a write)
        if in_tx and writes:
            # Interrupted, a write rolls the whole transaction back: only its first change runs here, after
            # reads alone (all inline), and the file's version is noted so that the worker may begin again.
            if tx is None or tx.inline < 0 or tx.changed:
                return None
            tx.version = conn.execute("PRAGMA data_version").fetchone()[0]
        if tx is not None:
            if tx.inline >= 0:
                tx.inline += 1
            # whatever it does, even failing half-way (INSERT OR FAIL), the transaction may hold changes now
            tx.changed = tx.changed or writes
        started = time.perf_counter()
        try:
            result = _run_statement(conn, tx, sql, params, self._budget)
        except sqlite3.OperationalError as error:
            if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF in (_SQLITE_INTERRUPT, sqlite3.SQLITE_BUSY):
                return None  # interrupted (a write then rolled back by SQLite) or busy: the worker does it
            raise
        finally:
            _charge_slice(started)
        if writes and not conn.in_transaction:
            self._committed(inline=True)
        return result

    def _committed(self, inline: bool = False) -> None:
        """After a commit: once the -wal is past the bound, checkpoint it on the worker (never on the loop).

        An inline commit writes few pages: its -wal is looked at every `WAL_CHECK_EVERY` of them.
        """
        if inline:
            self._commits += 1
            if self._commits % WAL_CHECK_EVERY:
                return
        try:
            size = os.stat(self._wal).st_size
        except FileNotFoundError:
            return
        if size < self._checkpoint_at or self._worker.stopping:
            return
        self._checkpoint_at = size + WAL_CHECKPOINT_BYTES  # a busy checkpoint is not retried at every commit
        self._submit(checkpoint_truncate, self._conn).add_done_callback(self._checkpointed)

    def _checkpointed(self, fut: asyncio.Future[bool]) -> None:
        if fut.cancelled():
            return
        error = fut.exception()
        if error is not None:
            log.warning("checkpoint of %s failed: %s", self.path.name, error)
        elif fut.result():
            self._checkpoint_at = WAL_CHECKPOINT_BYTES

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the worker; if the file is locked, retry from the loop (never sleep there)."""
        try:
            return await self._submit(fn, *args)
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
        return await self._retry(fn, *args)

    async def _retry(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` met a lock held by another program: try again with a backoff, up to the busy timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._busy_timeout
        wait = BUSY_FIRST_WAIT
        while True:
            await asyncio.sleep(wait)
            await self._await_turn()  # a transaction begun meanwhile is not ours to join
            try:
                return await self._submit(fn, *args)
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                if loop.time() >= deadline:
                    raise DatabaseBusyError("This server's data is busy right now; try again in a moment.") \
                        from error
            wait = min(wait * 2, BUSY_MAX_WAIT)

    async def _execute(self, sql: str, params: Params) -> Result:
        if self._inline_steps:
            # Inline statements have held the loop long enough: everything else it has to do goes
            # first (a new slice starts at its next turn, so one turn holds one slice and one statement).
            while _loop_slice().spent > INLINE_SLICE_S:
                await asyncio.sleep(0)
        tx = self._tx
        if tx is not None and tx not in _current_tx.get():  # the hot path skips a coroutine
            tx = await self._await_turn()
        result = self._inline(tx, sql, params)
        if result is not None:
            return result
        try:  # _call inlined: the statement path stays one coroutine deep
            result = await self._submit(_run_statement, self._conn, tx, sql, params)
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            result = await self._retry(_run_statement, self._conn, tx, sql, params)
        if tx is None and _verb(sql) != "SELECT":  # it may have committed
            self._committed()
        return result

    def _statement(self, sql: str, params: Params) -> Coroutine[Any, Any, Result]:
        """`_execute`, or on a copy its guard (chosen without a coroutine more on the hot path)."""
        if self._probe is None:
            return self._execute(sql, params)
        return self._execute_on_copy(sql, params)

    def execute(self, sql: str, params: Params = ()) -> _PendingResult:
        """Run one statement; the result is fetched already."""
        return _PendingResult(self._statement(sql, params))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        return (await self._statement(sql, params)).rows

    async def execute_fetchone(self, sql: str, params: Params = ()) -> Any | None:
        rows = (await self._statement(sql, params)).rows
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Iterable[Params]) -> Result:
        await self.ensure_file()
        tx = await self._await_turn()
        result = await self._call(_run_many, self._conn, tx, sql, list(rows))
        if tx is None:
            self._committed()
        return result

    async def executescript(self, script: str) -> None:
        """Run a script in autocommit mode (refused inside a transaction: sqlite3 would commit it)."""
        if self._mine() is not None:
            raise GuildDatabaseError("executescript cannot run inside db.transaction()")
        await self.ensure_file()
        await self._await_turn()
        await self._call(self._conn.executescript, script)
        self._committed()

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(raw_connection)` on this connection's worker, for the backup API and bulk work.

        Inside `db.transaction()` it is part of the transaction (begun first, rolled back with it).
        On a copy, a `fn` that tries to write runs again on the file built for it: it must not have
        effects outside the database that cannot happen twice.
        """
        if self._probe is not None:
            return await self._on_copy(lambda: self._run(fn))
        return await self._run(fn)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        tx = await self._await_turn()
        return await self._call(_run_function, self._conn, tx, fn)

    def _mine(self) -> _TxState | None:
        """The transaction the current task has open on this file, if any."""
        for state in _current_tx.get():
            if state.lock is self._lock and state.open:  # a spawned task outlives its parent's
                return state
        return None

    async def commit(self) -> None:
        """No-op outside a transaction (statements autocommit); kept for aiosqlite compatibility."""
        if self._conn.in_transaction and self._tx is None:
            await self._submit(_finish, self._conn, "COMMIT")
            self._committed()

    async def rollback(self) -> None:
        if self._conn.in_transaction and self._tx is None:
            await self._submit(_finish, self._conn, "ROLLBACK")

    # -- transactions -----------------------------------------------------
    def transaction(self) -> Transaction:
        """`async with db.transaction():` BEGIN IMMEDIATE … COMMIT, ROLLBACK on error."""
        return Transaction(self)

    async def _begin(self) -> tuple[_TxState, contextvars.Token[tuple[_TxState, ...]]]:
        if self._mine() is not None:
            raise GuildDatabaseError("db.transaction() cannot be nested")
        if self._probe is not None:  # BEGIN IMMEDIATE is a write: never on a copy (the test spares the hot path a call)
            await self.ensure_file()
        await self._bounded_if_holding(self._lock.acquire())  # held for the whole transaction
        state = _TxState(self._lock)
        self._tx = state
        self._idle.clear()
        return state, _current_tx.set((*_current_tx.get(), state))

    async def _end(self, state: _TxState, token: contextvars.Token[tuple[_TxState, ...]], ok: bool) -> None:
        """Finish on the worker, after every statement the transaction queued, even if cancelled meanwhile.

        The lock is released only once the connection is idle again: a cancellation can never
        leave BEGIN open for the next user of the file.
        """
        inline = 0 <= state.inline <= INLINE_TX_STATEMENTS and self._worker.idle and bool(self._inline_steps)
        try:
            if inline:  # every statement ran inline: the COMMIT writes a bounded WAL, no fsync
                started = time.perf_counter()
                try:
                    _end_transaction(self._conn, state, ok)
                finally:
                    _charge_slice(started)
            else:
                await _settle(self._submit(_end_transaction, self._conn, state, ok))
        finally:
            state.open = False
            _current_tx.reset(token)
            self._tx = None
            self._idle.set()
            self._lock.release()
        if ok:
            self._committed(inline)

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection, for code that runs on the worker (see `run`)."""
        return self._conn


class Transaction:
    """Async context manager of `Database.transaction()`; BEGIN goes out with the first statement."""

    __slots__ = ("_db", "_state", "_token")

    _state: _TxState
    _token: contextvars.Token[tuple[_TxState, ...]]

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
                 lock: asyncio.Lock, busy_timeout: float = 5.0, inline_steps: int = INLINE_VM_STEPS,
                 make_file: Callable[[], Awaitable[sqlite3.Connection]] | None = None) -> None:
        super().__init__(conn, path=path, worker=worker, lock=lock, busy_timeout=busy_timeout,
                         inline_steps=inline_steps, make_file=make_file)
        self.guild_id = guild_id


class BotDb(Database):
    """The connection to the bot-wide file (registry, media cache, receipts, settings)."""

    __slots__ = ()
