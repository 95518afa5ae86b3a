"""The storage benchmark's PostgreSQL side (`bench_storage.py --postgres DSN`, issue 18 item 6).

The monolith's layout in PostgreSQL: one table per kind with a `guild_id` column in its primary key (the
benchmark uses one kind, `user_xp`), in a schema of its own (`guildshelf_bench`, dropped at the end),
behind asyncpg with a pool of 16 connections: one per task of the benchmark's mix. Commits run with
`synchronous_commit = off`, the durability of SQLite's `synchronous = NORMAL` in WAL mode (a commit
survives the process, not a power cut); the per-call figures also give an upsert with it on.

asyncpg is imported only here, when a DSN is given: the benchmark runs without it otherwise.
"""
from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

POOL_SIZE = 16
CONNECT_TIMEOUT_S = 10.0
SCHEMA = "guildshelf_bench"
TABLES = """
CREATE TABLE user_xp (guild_id BIGINT NOT NULL, discord_id BIGINT NOT NULL, xp BIGINT NOT NULL DEFAULT 0,
                      level INTEGER NOT NULL DEFAULT 0, last_gain_at TEXT, PRIMARY KEY (guild_id, discord_id));
"""
READ = "SELECT xp, level FROM user_xp WHERE guild_id = $1 AND discord_id = $2"
WRITE = ("INSERT INTO user_xp (guild_id, discord_id, xp) VALUES ($1, $2, 1) "
         "ON CONFLICT (guild_id, discord_id) DO UPDATE SET xp = user_xp.xp + 1")
EXAMPLE = "postgresql://USER:PASSWORD@127.0.0.1:5432/DATABASE"


class PostgresUnavailable(Exception):
    """The DSN cannot be used; the message is one sentence, without the password."""


def redact(dsn: str) -> str:
    """The DSN as it may be printed: its password (in the user part or a `password=` parameter) as ***."""
    try:
        parts = urllib.parse.urlsplit(dsn)
    except ValueError:
        return "(a DSN that is not a URL)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{hosts}"
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(f"{key}={'***' if key == 'password' else value}" for key, value in params)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def _passwords(dsn: str) -> list[str]:
    """Every spelling of the DSN's password that a driver's message might repeat."""
    try:
        parts = urllib.parse.urlsplit(dsn)
    except ValueError:
        return []
    found = [v for k, v in urllib.parse.parse_qsl(parts.query) if k == "password"]
    userinfo = parts.netloc.rpartition("@")[0]
    if ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    return [s for p in found if p for s in {p, urllib.parse.unquote(p)}]


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "nothing listens there (connection refused)"
    if isinstance(error, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, ValueError):
        return f"the DSN is not valid ({error})"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _unavailable(dsn: str, error: BaseException) -> PostgresUnavailable:
    reason = _reason(error)
    for password in _passwords(dsn):
        reason = reason.replace(password, "***")
    return PostgresUnavailable(f"cannot use PostgreSQL at {redact(dsn)}: {reason.rstrip('.')}.")


class PostgresSide:
    """A pool of 16 asyncpg connections to the benchmark's own schema, holding the same rows as the monolith."""

    def __init__(self, pool: Any, dsn: str, version: str) -> None:
        self._pool = pool
        self.shown_dsn = redact(dsn)
        self.version = version

    @classmethod
    async def open(cls, dsn: str) -> PostgresSide:
        """Connect, create the schema afresh, fill the pool.

        Raises:
            PostgresUnavailable: asyncpg is missing, the DSN is no URL, or the server refuses or cannot be reached.
        """
        try:
            scheme = urllib.parse.urlsplit(dsn).scheme
        except ValueError:
            scheme = ""
        if scheme not in ("postgres", "postgresql"):
            raise PostgresUnavailable(f"--postgres takes a URL such as {EXAMPLE}.")
        try:
            import asyncpg
        except ModuleNotFoundError:
            raise PostgresUnavailable("--postgres needs asyncpg: pip install -e '.[bench]'.") from None
        try:
            conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
            try:
                await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};"
                                   f"SET search_path = {SCHEMA}; {TABLES}")
                version = await conn.fetchval("SHOW server_version")
            finally:
                await conn.close()
            pool = await asyncpg.create_pool(
                dsn, min_size=POOL_SIZE, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT_S,
                server_settings={"search_path": SCHEMA, "synchronous_commit": "off"})
        except (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            raise _unavailable(dsn, e) from None
        return cls(pool, dsn, version)

    async def load(self, rows: Iterable[tuple[int, int, int]]) -> None:
        """Replace the table's rows with these (guild id, member id, xp), then ANALYZE."""
        async with self._pool.acquire() as conn:
            await conn.execute("TRUNCATE user_xp")
            await conn.copy_records_to_table("user_xp", records=rows, columns=("guild_id", "discord_id", "xp"))
            await conn.execute("ANALYZE user_xp")

    async def one(self, guild_id: int, member: int, write: bool) -> None:
        """One operation of the mix: a point read, or an upsert in its own transaction."""
        async with self._pool.acquire() as conn:
            if write:
                async with conn.transaction():
                    await conn.execute(WRITE, guild_id, member)
            else:
                await conn.fetch(READ, guild_id, member)

    async def per_call_us(self, guild_id: int, calls: int, members: int) -> dict[str, float]:
        """µs per call, one at a time on one connection, as the monolith's per-call figures: a point read,
        an upsert transaction, and the same upsert with `synchronous_commit = on` (a flush per commit)."""
        async with self._pool.acquire() as conn:
            await conn.fetch(READ, guild_id, 0)
            start = time.perf_counter()
            for i in range(calls):
                await conn.fetch(READ, guild_id, i % members)
            read = time.perf_counter() - start
            write = await self._upserts(conn, guild_id, calls, members)
            await conn.execute("SET synchronous_commit = on")
            try:
                synced = await self._upserts(conn, guild_id, calls, members)
            finally:
                await conn.execute("RESET synchronous_commit")
        return {"postgres_read": read / calls * 1e6, "postgres_write": write / calls * 1e6,
                "postgres_write_synchronous_commit": synced / calls * 1e6}

    @staticmethod
    async def _upserts(conn: Any, guild_id: int, calls: int, members: int) -> float:
        start = time.perf_counter()
        for i in range(calls):
            async with conn.transaction():
                await conn.execute(WRITE, guild_id, i % members)
        return time.perf_counter() - start

    async def close(self) -> None:
        """Drop the benchmark's schema and close the pool."""
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        finally:
            await asyncio.wait_for(self._pool.close(), CONNECT_TIMEOUT_S)
