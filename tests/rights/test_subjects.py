"""The subject map's run-time checks, made to fire: a stale column, an unclassified person column."""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db import GUILD_SCHEMA, GuildDatabaseManager
from app.errors import GuildDatabaseError
from app.legacy.manifest import manifest_path
from app.rights.member import erase_member, export_member
from app.rights.subjects import (
    SUBJECT_MAP,
    TablePolicy,
    check_against,
    ensure_covered,
    looks_like_person,
    mapped_policies,
    table_columns,
)
from tests.rights.conftest import ALICE, dump, populate


@pytest.fixture
def template() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(GUILD_SCHEMA.sql_path.read_text(encoding="utf-8"))
    try:
        yield conn
    finally:
        conn.close()


@pytest.mark.parametrize("column", ["inviter_id", "updated_by", "USER_ID", "member", "user", "owner", "author",
                                    "Author", "referrerId", "createdBy", "ownerID", "userid", "MEMBERID",
                                    "discordid", "referrer_id ", " user"])
def test_id_and_by_columns_and_person_words_look_like_a_person(column: str) -> None:
    assert looks_like_person(column)


@pytest.mark.parametrize("column", ["title", "xp", "created_at", "identity", "bystander", "members", "users_count",
                                    "id", "username", "anilist_username", "paid", "valid", "android", "Standby"])
def test_other_columns_do_not(column: str) -> None:
    assert not looks_like_person(column)


def test_table_columns_tells_which_columns_are_not_null(template: sqlite3.Connection) -> None:
    # erasure sets a NOT NULL counterpart to 0 instead of NULL: the flag must be right
    assert table_columns(template, "guild_settings") == {"key": True, "value": True, "updated_by": False,
                                                         "updated_at": True}


def test_a_column_in_the_map_that_the_table_lost_is_reported_and_refused(template: sqlite3.Connection) -> None:
    template.execute("ALTER TABLE challenges DROP COLUMN created_by")  # a counterpart: erasure would miss it
    problems = check_against(template)
    with pytest.raises(GuildDatabaseError) as caught:
        ensure_covered(template)
    assert problems == ["challenges.created_by is in the map but not in the table"]
    assert str(caught.value) == ("the data-rights subject map is incomplete: "
                                 "challenges.created_by is in the map but not in the table")


@pytest.mark.parametrize("column", ["reviewer_id", "approved_by", "owner"])
def test_a_person_column_the_map_does_not_classify_is_reported_and_refused(template: sqlite3.Connection,
                                                                            column: str) -> None:
    template.execute(f"ALTER TABLE recommendations ADD COLUMN {column} INTEGER")
    template.execute("ALTER TABLE recommendations ADD COLUMN note TEXT")  # not a person: fine
    problems = check_against(template)
    with pytest.raises(GuildDatabaseError) as caught:
        ensure_covered(template)
    assert problems == [f"recommendations.{column} looks like a person but is not classified"]
    assert str(caught.value).endswith(f"recommendations.{column} looks like a person but is not classified")


def test_every_problem_is_named_in_one_refusal(template: sqlite3.Connection) -> None:
    template.execute("ALTER TABLE invites DROP COLUMN channel_id")
    template.execute("ALTER TABLE users ADD COLUMN referred_by INTEGER")
    template.execute("CREATE TABLE clubs (club_id INTEGER PRIMARY KEY)")
    with pytest.raises(GuildDatabaseError) as caught:
        ensure_covered(template)
    assert str(caught.value) == (
        "the data-rights subject map is incomplete: table clubs is not in the subject map; "
        "invites.channel_id is in the map but not in the table; "
        "users.referred_by looks like a person but is not classified")


def test_a_table_of_a_later_schema_missing_from_an_older_file_is_no_refusal(template: sqlite3.Connection) -> None:
    template.execute("DROP TABLE guild_settings")  # version 1 files have no guild_settings yet
    assert check_against(template) == ["table guild_settings is in the map but not in the schema"]
    ensure_covered(template)


@pytest.mark.asyncio
async def test_export_and_erasure_refuse_a_file_with_an_unclassified_person_column(
        mgr: GuildDatabaseManager) -> None:
    async with mgr.connect(4242) as db:
        await populate(db)
        await db.executescript("ALTER TABLE user_xp ADD COLUMN granted_by INTEGER")
        before = await db.run(dump)
        with pytest.raises(GuildDatabaseError):
            await erase_member(db, ALICE)
        with pytest.raises(GuildDatabaseError):
            await export_member(db, ALICE)
        after = await db.run(dump)
    assert after == before


def test_a_table_the_split_created_is_covered_by_its_mapped_policy_only(template: sqlite3.Connection) -> None:
    template.execute("CREATE TABLE giveaway_entries (user_id INTEGER, host_id INTEGER, prize TEXT)")
    extra = {"giveaway_entries": TablePolicy(subject=("user_id",), not_person=("host_id",))}
    with pytest.raises(GuildDatabaseError):
        ensure_covered(template)
    policies = ensure_covered(template, extra)
    assert policies["giveaway_entries"] == extra["giveaway_entries"] and policies["users"] == SUBJECT_MAP["users"]
    assert check_against(template, extra) == []


def test_mapped_policies_come_from_the_split_manifest_and_follow_its_changes(tmp_path: Path) -> None:
    manifest = manifest_path(tmp_path)
    assert mapped_policies(tmp_path) == {}  # no split: no extra table
    rules = {"giveaway_entries": "guild:guild_id,subjects=user_id", "raffle": "global", "users": "home"}
    created = {"giveaway_entries": ["user_id", "host_id", "prize"], "raffle": ["owner_id"]}
    manifest.write_text(json.dumps({"rules": rules, "created_tables": created}), encoding="utf-8")
    first = mapped_policies(tmp_path)
    first.clear()  # a copy: the cache is not touched
    assert mapped_policies(tmp_path) == {
        "giveaway_entries": TablePolicy(subject=("user_id",), not_person=("host_id",))}
    rules["giveaway_entries"] = "home,subjects=user_id+host_id"
    manifest.write_text(json.dumps({"rules": rules, "created_tables": created}) + " " * 10,
                        encoding="utf-8")  # a new size: read again
    assert mapped_policies(tmp_path) == {"giveaway_entries": TablePolicy(subject=("user_id", "host_id"))}


def test_mapped_policies_are_read_again_when_only_the_size_or_only_the_time_changes(tmp_path: Path) -> None:
    manifest = manifest_path(tmp_path)

    def write(subjects: str, *, mtime_ns: int) -> None:
        rules = {"giveaway_entries": f"home,subjects={subjects}"}
        created = {"giveaway_entries": ["user_id", "host_id", "winner_id"]}
        manifest.write_text(json.dumps({"rules": rules, "created_tables": created}), encoding="utf-8")
        os.utime(manifest, ns=(mtime_ns, mtime_ns))

    def subjects() -> tuple[str, ...]:
        return mapped_policies(tmp_path)["giveaway_entries"].subject

    write("user_id", mtime_ns=1_000_000_000_000_000_000)
    first = subjects()
    write("winner_id", mtime_ns=1_000_000_000_000_000_000)  # same time, new size
    by_size = subjects()
    write("host_id", mtime_ns=1_000_000_001_000_000_000)  # new time, the first one's size
    by_time = subjects()
    assert (first, by_size, by_time) == (("user_id",), ("winner_id",), ("host_id",))
