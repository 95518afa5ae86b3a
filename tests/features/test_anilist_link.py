"""Linking in one server's file: the AniList check, the stored link, and two members racing for one account."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.db import GuildDatabaseManager
from app.doubles.anilist import AniListDouble
from app.errors import AlreadyExistsError
from app.features.anilist_link import fetch_link, link_account, unlink_account
from app.services.anilist import AniListClient

GUILD = 111_111_111_111_111_111


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[GuildDatabaseManager]:
    mgr = GuildDatabaseManager(tmp_path / "guild_dbs")
    try:
        yield mgr
    finally:
        await mgr.close_all()


@pytest.mark.asyncio
async def test_two_members_racing_for_one_account_get_one_link(manager: GuildDatabaseManager) -> None:
    async with AniListDouble() as anilist:
        client = AniListClient(anilist.url, rate_per_min=10**9, timeout=2.0)  # no pacing: a real race
        async with manager.connect(GUILD) as db:
            results = await asyncio.gather(link_account(db, client, 1, "one", "ShelfTester"),
                                           link_account(db, client, 2, "two", "ShelfTester"),
                                           return_exceptions=True)
            links = [await fetch_link(db, 1), await fetch_link(db, 2)]

    assert sorted(type(r).__name__ for r in results) == ["AlreadyExistsError", "Link"]
    assert sum(link is not None for link in links) == 1


@pytest.mark.asyncio
async def test_relinking_replaces_the_account_and_unlink_forgets_it(manager: GuildDatabaseManager) -> None:
    async with AniListDouble() as anilist:
        client = AniListClient(anilist.url, rate_per_min=6000, timeout=2.0)
        async with manager.connect(GUILD) as db:
            await link_account(db, client, 1, "one", "ShelfTester")
            await link_account(db, client, 1, "one", "NewHere")
            replaced = await fetch_link(db, 1)
            await link_account(db, client, 2, "two", "ShelfTester")  # free again
            gone = await unlink_account(db, 1)
            after = await fetch_link(db, 1)
            with pytest.raises(AlreadyExistsError):
                await link_account(db, client, 3, "three", "shelftester")

    assert replaced is not None and (replaced.anilist_id, replaced.anilist_name) == (100003, "NewHere")
    assert gone == replaced and after is None
