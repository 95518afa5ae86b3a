"""More of what Discord refuses: select menus, text inputs, autocomplete values, files, mentions, command sizes.

Each case is a request the double used to accept; Discord answers it with 50035 (or refuses it in the client).
"""
from __future__ import annotations

from typing import Any

import pytest

from app.doubles import DoubleError
from tests.doubles.test_strict_refusals import GUILD, USER, WIDGET, Client, _at, _form_errors, client

__all__ = ["client"]  # the fixture, shared with test_strict_refusals

NAMED = {"name": "find", "description": "Find by name", "type": 1, "options": [
    {"name": "name", "description": "A name", "type": 3, "required": True, "autocomplete": True}]}


def _select(options: int, **extra: Any) -> dict[str, Any]:
    return {"type": 3, "custom_id": "pick", "options": [{"label": f"o{i}", "value": f"v{i}"} for i in range(options)],
            **extra}


def _row(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(children)}


SELECT_AT = ("data", "components", "0", "components", "0")
BAD_SELECTS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("max_values over the options", _select(2, max_values=3), (*SELECT_AT, "max_values")),
    ("max_values of 0", _select(2, max_values=0), (*SELECT_AT, "max_values")),
    ("min_values over max_values", _select(5, min_values=3, max_values=2), (*SELECT_AT, "min_values")),
    ("min_values over the options", _select(2, min_values=3, max_values=3), (*SELECT_AT, "min_values")),
    ("an option value used twice", {**_select(2), "options": [{"label": "a", "value": "same"},
                                                              {"label": "b", "value": "same"}]},
     (*SELECT_AT, "options", "1")),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "select", "path"), BAD_SELECTS, ids=[c[0] for c in BAD_SELECTS])
async def test_select_menu_values_discord_refuses(client: Client, case: str, select: dict[str, Any],
                                                  path: tuple[str, ...]) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, 4, {"content": "pick", "components": [_row(select)]})
    assert status == 400
    assert _at(_form_errors(body), path)
    assert record.response_type is None


@pytest.mark.asyncio
async def test_a_multi_select_within_its_options_is_accepted(client: Client) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, 4, {"content": "pick", "components": [
        _row(_select(3, min_values=0, max_values=3))]})
    assert status == 200, body


# -- modals -----------------------------------------------------------------------------------------
def _modal(*inputs: dict[str, Any]) -> dict[str, Any]:
    return {"custom_id": "m", "title": "Title", "components": [_row(i) for i in inputs]}


def _input(custom_id: str = "f", **extra: Any) -> dict[str, Any]:
    return {"type": 4, "custom_id": custom_id, "style": 1, "label": "Name", **extra}


INPUT_AT = ("data", "components", "0", "components", "0")
BAD_INPUTS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("style 3", _modal(_input(style=3)), (*INPUT_AT, "style")),
    ("min_length of 4001", _modal(_input(min_length=4001)), (*INPUT_AT, "min_length")),
    ("max_length of 0", _modal(_input(max_length=0)), (*INPUT_AT, "max_length")),
    ("min_length over max_length", _modal(_input(min_length=10, max_length=5)), (*INPUT_AT, "min_length")),
    ("a custom_id used twice", _modal(_input("same"), _input("same")),
     ("data", "components", "1", "components", "0", "custom_id")),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "modal", "path"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_text_inputs_discord_refuses(client: Client, case: str, modal: dict[str, Any],
                                           path: tuple[str, ...]) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, 9, modal)
    assert status == 400
    assert _at(_form_errors(body), path)


@pytest.mark.asyncio
@pytest.mark.parametrize(("typed", "refused"), [("", True), ("ab", True), ("abc", False), ("x" * 10, False),
                                                ("x" * 11, True)])
async def test_a_member_cannot_submit_what_the_text_input_does_not_allow(client: Client, typed: str,
                                                                        refused: bool) -> None:
    # Discord's client keeps the form open until a required field is filled within min_length..max_length
    record = await client.interaction()
    assert (await client.respond(record, 9, _modal(_input(min_length=3, max_length=10))))[0] == 200
    assert record.original is not None

    if refused:
        with pytest.raises(DoubleError) as caught:
            await client.d.submit_modal(record.original, {"f": typed}, guild_id=GUILD, user_id=USER)
        assert "between 3 and 10" in str(caught.value)
    else:
        await client.d.submit_modal(record.original, {"f": typed}, guild_id=GUILD, user_id=USER)


@pytest.mark.asyncio
async def test_an_optional_text_input_may_be_left_empty(client: Client) -> None:
    record = await client.interaction()
    assert (await client.respond(record, 9, _modal(_input(min_length=3, required=False))))[0] == 200
    assert record.original is not None
    submitted = await client.d.submit_modal(record.original, {}, guild_id=GUILD, user_id=USER)
    assert submitted.kind == 5


# -- autocomplete, files, mentions ------------------------------------------------------------------
@pytest.mark.asyncio
async def test_an_autocomplete_string_value_over_100_is_refused(client: Client) -> None:
    assert (await client.call("PUT", f"/applications/{client.d.app_id}/commands", [WIDGET, NAMED]))[0] == 200
    record = await client.d.autocomplete(GUILD, USER, "find", "name", "a")
    status, body = await client.respond(record, 8, {"choices": [{"name": "ok", "value": "v" * 101}]})
    assert status == 400 and _at(_form_errors(body), ("data", "choices", "0", "value"))
    status, _ = await client.respond(record, 8, {"choices": [{"name": "ok", "value": "v" * 100}]})
    assert status == 200


@pytest.mark.asyncio
async def test_more_than_ten_files_are_refused(client: Client) -> None:
    record = await client.interaction()
    files = {f"f{i}.txt": b"x" for i in range(11)}
    status, body = await client.respond(record, 4, {"content": "files"}, files=files)
    assert status == 400 and _at(_form_errors(body), ("data", "attachments"))
    ok = await client.interaction()
    status, _ = await client.respond(ok, 4, {"content": "files"}, files=dict(list(files.items())[:10]))
    assert status == 200


@pytest.mark.asyncio
async def test_allowed_mentions_parse_users_and_a_user_list_are_exclusive(client: Client) -> None:
    channel = client.d.guilds[GUILD].channel_id
    both = {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": [str(USER)]}}
    status, body = await client.call("POST", f"/channels/{channel}/messages", both)
    assert status == 400 and _at(_form_errors(body), ("allowed_mentions",))
    either = {"content": "hi", "allowed_mentions": {"parse": [], "users": [str(USER)]}}
    assert (await client.call("POST", f"/channels/{channel}/messages", either))[0] == 200


# -- command registration ---------------------------------------------------------------------------
def _option(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "d", "type": 3, **extra}


BAD_COMMANDS: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
    ("over 4000 characters in all", {**WIDGET, "options": [
        {"name": f"s{i}", "description": "d" * 100, "type": 1, "options": [
            _option(f"o{j}", description="d" * 100) for j in range(4)]} for i in range(8)]}, ("1",)),
    ("a string choice value of 101", {**WIDGET, "options": [_option("a", choices=[{"name": "n", "value": "v" * 101}])]},
     ("1", "options", "0", "choices", "0", "value")),
    ("max_length of 6001", {**WIDGET, "options": [_option("a", max_length=6001)]},
     ("1", "options", "0", "max_length")),
    ("min_length of 6001", {**WIDGET, "options": [_option("a", min_length=6001)]},
     ("1", "options", "0", "min_length")),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "command", "path"), BAD_COMMANDS, ids=[c[0] for c in BAD_COMMANDS])
async def test_commands_discord_refuses(client: Client, case: str, command: dict[str, Any],
                                        path: tuple[str | int, ...]) -> None:
    before = list(client.d.commands[0])
    status, body = await client.call("PUT", f"/applications/{client.d.app_id}/commands",
                                     [{**WIDGET, "name": "good"}, command])
    assert status == 400
    assert _at(_form_errors(body), path)
    assert client.d.commands[0] == before


@pytest.mark.asyncio
async def test_more_than_100_chat_input_commands_are_refused(client: Client) -> None:
    commands = [{**WIDGET, "name": f"c{i}"} for i in range(101)]
    status, body = await client.call("PUT", f"/applications/{client.d.app_id}/commands", commands)
    assert status == 400 and _form_errors(body)["_errors"]
    status, _ = await client.call("PUT", f"/applications/{client.d.app_id}/commands", commands[:100])
    assert status == 200


# -- a modal's submission and the message it was opened from ----------------------------------------
@pytest.mark.asyncio
async def test_a_modal_opened_from_a_command_cannot_update_a_message(client: Client) -> None:
    record = await client.interaction()
    assert (await client.respond(record, 9, _modal(_input())))[0] == 200
    assert record.original is not None
    submitted = await client.d.submit_modal(record.original, {"f": "typed"}, guild_id=GUILD, user_id=USER)

    for kind in (6, 7):
        status, body = await client.respond(submitted, kind, {"content": "updated"})
        assert status == 400 and "type" in _form_errors(body)
    assert submitted.response_type is None


@pytest.mark.asyncio
async def test_a_modal_opened_from_a_button_updates_the_buttons_message(client: Client) -> None:
    record = await client.interaction()
    button = {"type": 2, "style": 1, "label": "Open", "custom_id": "open"}
    await client.respond(record, 4, {"content": "press", "components": [_row(button)]})
    assert record.original is not None
    press = await client.d.click(record.original, "open", guild_id=GUILD, user_id=USER)
    assert (await client.respond(press, 9, _modal(_input())))[0] == 200
    assert press.original is not None

    submitted = await client.d.submit_modal(press.original, {"f": "typed"}, guild_id=GUILD, user_id=USER)
    status, body = await client.respond(submitted, 7, {"content": "updated", "components": []})

    assert status == 200, body
    assert submitted.source_message_id == record.original.message_id
    assert record.original.content == "updated" and record.original.components == []
