"""Guild ids at the boundary: what parses, what is refused, which file names stand for a guild."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.db.ids import BOT_FILE_NAME, guild_file_name, guild_id_from_path, parse_guild_id, validate_guild_id
from app.errors import InvalidGuildIdError

LARGEST = 2**63 - 1  # 19 digits: 9223372036854775807


@pytest.mark.parametrize(("text", "expected"), [("1", 1), ("  424242 ", 424242), (str(LARGEST), LARGEST)])
def test_operator_typed_ids_parse(text: str, expected: int) -> None:
    assert parse_guild_id(text) == expected


@pytest.mark.parametrize("text", [
    "١٢٣",  # Arabic-Indic digits: str.isdigit() says yes, int() reads 123
    "１２３",  # fullwidth digits, the same
    "²",  # a superscript: isdigit() says yes, int() raises ValueError
    "0" * 19 + "1",  # 20 characters, int() reads 1
    str(2**63),  # 19 digits, one past the largest snowflake
    "0", "", "-5", "+5", "1_000", "12 3", "0x1f",
])
def test_anything_but_ascii_digits_of_a_snowflake_is_refused(text: str) -> None:
    with pytest.raises(InvalidGuildIdError) as caught:
        parse_guild_id(text)
    assert "is not a Discord server id" in caught.value.user_message


@pytest.mark.parametrize("value", [0, -1, 2**63, True, False, 1.0, "1", None])
def test_only_ints_in_the_snowflake_range_are_guild_ids(value: object) -> None:
    with pytest.raises(InvalidGuildIdError):
        validate_guild_id(value)


def test_the_range_bounds_themselves_are_guild_ids() -> None:
    assert (validate_guild_id(1), validate_guild_id(LARGEST)) == (1, LARGEST)


def test_a_long_refused_value_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidGuildIdError) as value_caught:
        validate_guild_id("x" * 100)
    with pytest.raises(InvalidGuildIdError) as text_caught:
        parse_guild_id("y" * 100)
    assert value_caught.value.user_message == f"'{'x' * 36}... is not a Discord server id (a positive 64-bit integer)."
    assert text_caught.value.user_message == f"'{'y' * 40}' is not a Discord server id (digits only)."


@pytest.mark.parametrize(("value", "shown"), [("x" * 38, "'" + "x" * 38 + "'"), ("x" * 39, "'" + "x" * 36 + "...")])
def test_a_value_is_shortened_only_past_forty_characters(value: str, shown: str) -> None:
    with pytest.raises(InvalidGuildIdError) as caught:
        validate_guild_id(value)
    assert caught.value.user_message == f"{shown} is not a Discord server id (a positive 64-bit integer)."


@pytest.mark.parametrize("guild_id", [1, 123, LARGEST])
def test_a_guild_file_name_reads_back_as_its_guild(guild_id: int) -> None:
    assert guild_id_from_path(Path("dbs") / guild_file_name(guild_id)) == guild_id


@pytest.mark.parametrize("name", [
    "123.sqlite3\n",  # `$` would match before a trailing newline
    "123.sqlite3-wal", "123.sqlite3.quarantined-20260101T000000Z", ".123.sqlite3.building-1-ab", "0123.sqlite3",
    "0.sqlite3", "١٢٣.sqlite3", "-1.sqlite3", f"{2**63}.sqlite3", f"{'1' * 20}.sqlite3", "123.db", "123sqlite3",
    BOT_FILE_NAME,
])
def test_other_file_names_stand_for_no_guild(name: str) -> None:
    assert guild_id_from_path(Path("dbs") / name) is None
