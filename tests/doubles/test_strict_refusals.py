"""The strict double refuses what Discord refuses, with Discord's status and JSON error body."""
from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from app.doubles import DiscordDouble, InteractionRecord
from app.doubles import discord_permissions as perm

GUILD = 444_444_444_444_444_444
USER = 900_000_000_000_000_009
WIDGET = {"name": "widget", "description": "A command", "type": 1, "options": [
    {"name": "size", "description": "How big", "type": 4, "required": False, "autocomplete": True}]}


class Client:
    """Raw HTTP against the double, as the bot (with its Authorization) or with a token only."""

    def __init__(self, double: DiscordDouble, http: aiohttp.ClientSession) -> None:
        self.d, self.http = double, http

    async def call(self, method: str, path: str, body: Any = None, *, auth: bool = True,
                   files: dict[str, bytes] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bot {self.d.token}"} if auth else {}
        url = f"{self.d.rest_url}{path}"
        if files:
            form = aiohttp.FormData()
            form.add_field("payload_json", json.dumps(body), content_type="application/json")
            for i, (name, data) in enumerate(files.items()):
                form.add_field(f"files[{i}]", io.BytesIO(data), filename=name)  # large bytes warn
            kwargs: dict[str, Any] = {"data": form}
        else:
            kwargs = {"json": body} if body is not None else {}
        async with self.http.request(method, url, headers=headers, **kwargs) as response:
            payload = await response.json() if response.content_type == "application/json" else None
            return response.status, payload

    async def interaction(self, kind: str = "command") -> InteractionRecord:
        if kind == "command":
            return await self.d.invoke(GUILD, USER, "widget")
        if kind == "autocomplete":
            return await self.d.autocomplete(GUILD, USER, "widget", "size", "1")
        raise AssertionError(kind)

    async def respond(self, record: InteractionRecord, kind: int, data: dict[str, Any] | None = None,
                      files: dict[str, bytes] | None = None) -> tuple[int, Any]:
        if files:
            data = {**(data or {}), "attachments": [{"id": i, "filename": n} for i, n in enumerate(files)]}
        body = {"type": kind, "data": data} if data is not None else {"type": kind}
        return await self.call("POST", f"/interactions/{record.interaction_id}/{record.token}/callback", body,
                               auth=False, files=files)

    async def webhook(self, method: str, record: InteractionRecord, tail: str = "", body: Any = None
                      ) -> tuple[int, Any]:
        return await self.call(method, f"/webhooks/{self.d.app_id}/{record.token}{tail}", body, auth=False)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with DiscordDouble() as double, aiohttp.ClientSession() as http:
        double.place_bot(GUILD)
        c = Client(double, http)
        status, _ = await c.call("PUT", f"/applications/{double.app_id}/commands", [WIDGET])
        assert status == 200
        yield c


def _form_errors(body: dict[str, Any]) -> dict[str, Any]:
    assert body["code"] == 50035 and body["message"] == "Invalid Form Body", body
    return body["errors"]


def _leaf_codes(tree: dict[str, Any]) -> list[str]:
    codes = [e["code"] for e in tree.get("_errors", [])]
    for key, child in tree.items():
        if key != "_errors":
            codes.extend(_leaf_codes(child))
    return codes


# -- deadlines --------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_initial_response_after_three_seconds_is_unknown_interaction(client: Client) -> None:
    record = await client.interaction()
    client.d.clock.advance(3.1)
    status, body = await client.respond(record, 4, {"content": "late"})
    assert (status, body["code"], body["message"]) == (404, 10062, "Unknown interaction")
    assert record.replies == []


@pytest.mark.asyncio
async def test_initial_response_within_three_seconds_is_accepted(client: Client) -> None:
    record = await client.interaction()
    client.d.clock.advance(2.9)
    status, _ = await client.respond(record, 4, {"content": "in time"})
    assert status == 200


@pytest.mark.asyncio
async def test_token_is_refused_after_fifteen_minutes(client: Client) -> None:
    record = await client.interaction()
    assert (await client.respond(record, 5))[0] == 200
    client.d.clock.advance(14 * 60)
    assert (await client.webhook("PATCH", record, "/messages/@original", {"content": "ok"}))[0] == 200
    client.d.clock.advance(61)
    for method, tail, body in (("PATCH", "/messages/@original", {"content": "x"}), ("POST", "", {"content": "x"}),
                               ("DELETE", "/messages/@original", None)):
        status, error = await client.webhook(method, record, tail, body)
        assert (status, error["code"]) == (401, 50027), (method, tail)


# -- message limits ---------------------------------------------------------------------------------
def _embed(**extra: Any) -> dict[str, Any]:
    return {"title": "t", **extra}


BAD_MESSAGES: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
    ("content over 2000", {"content": "x" * 2001}, ("data", "content")),
    ("11 embeds", {"embeds": [_embed()] * 11}, ("data", "embeds")),
    ("title over 256", {"embeds": [_embed(title="x" * 257)]}, ("data", "embeds", "0", "title")),
    ("description over 4096", {"embeds": [_embed(description="x" * 4097)]}, ("data", "embeds", "0", "description")),
    ("26 fields", {"embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 26)]},
     ("data", "embeds", "0", "fields")),
    ("field name over 256", {"embeds": [_embed(fields=[{"name": "n" * 257, "value": "v"}])]},
     ("data", "embeds", "0", "fields", "0", "name")),
    ("field value over 1024", {"embeds": [_embed(fields=[{"name": "n", "value": "v" * 1025}])]},
     ("data", "embeds", "0", "fields", "0", "value")),
    ("footer over 2048", {"embeds": [_embed(footer={"text": "f" * 2049})]},
     ("data", "embeds", "0", "footer", "text")),
    ("author over 256", {"embeds": [_embed(author={"name": "a" * 257})]}, ("data", "embeds", "0", "author", "name")),
    ("embeds over 6000 in all", {"embeds": [_embed(description="x" * 4000), _embed(description="y" * 2001)]},
     ("data", "embeds")),
]


def _button(custom_id: str, label: str = "b") -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id}


def _row(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(children)}


def _select(options: int, label: str = "o") -> dict[str, Any]:
    return {"type": 3, "custom_id": "pick", "options": [{"label": label, "value": f"v{i}"} for i in range(options)]}


BAD_COMPONENTS: list[tuple[str, list[dict[str, Any]], tuple[str | int, ...]]] = [
    ("6 action rows", [_row(_button(f"b{i}")) for i in range(6)], ("data", "components")),
    ("6 buttons in a row", [_row(*(_button(f"b{i}") for i in range(6)))], ("data", "components", "0", "components")),
    ("custom_id of 101", [_row(_button("c" * 101))], ("data", "components", "0", "components", "0", "custom_id")),
    ("empty custom_id", [_row(_button(""))], ("data", "components", "0", "components", "0", "custom_id")),
    ("duplicate custom_id", [_row(_button("same")), _row(_button("same"))],
     ("data", "components", "1", "components", "0", "custom_id")),
    ("select with a button", [_row(_select(2), _button("b"))], ("data", "components", "0", "components")),
    ("26 select options", [_row(_select(26))], ("data", "components", "0", "components", "0", "options")),
    ("option label of 101", [_row(_select(1, label="l" * 101))],
     ("data", "components", "0", "components", "0", "options", "0", "label")),
]


def _at(tree: dict[str, Any], path: tuple[str | int, ...]) -> list[dict[str, Any]]:
    node = tree
    for key in path:
        assert str(key) in node, (path, tree)
        node = node[str(key)]
    return node["_errors"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "data", "path"), BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES])
async def test_message_over_a_limit_is_invalid_form_body(client: Client, case: str, data: dict[str, Any],
                                                         path: tuple[str | int, ...]) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, 4, data)
    assert status == 400
    assert _at(_form_errors(body), path)
    assert record.response_type is None and record.replies == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "rows", "path"), BAD_COMPONENTS, ids=[c[0] for c in BAD_COMPONENTS])
async def test_components_over_a_limit_are_invalid_form_body(client: Client, case: str, rows: list[dict[str, Any]],
                                                             path: tuple[str | int, ...]) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, 4, {"content": "pick", "components": rows})
    assert status == 400
    assert _at(_form_errors(body), path)


@pytest.mark.asyncio
async def test_the_limits_themselves_are_accepted(client: Client) -> None:
    record = await client.interaction()
    embed = {"title": "t" * 256, "description": "d" * 1000,
             "fields": [{"name": "n", "value": "v" * 180} for _ in range(25)]}
    rows = [_row(*(_button(f"r{r}b{b}") for b in range(5))) for r in range(4)] + [_row(_select(25))]
    status, body = await client.respond(record, 4, {"content": "x" * 2000, "embeds": [embed], "components": rows})
    assert status == 200, body


@pytest.mark.asyncio
async def test_empty_message_is_refused(client: Client) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, 4, {"content": ""})
    assert (status, body["code"]) == (400, 50006)


@pytest.mark.asyncio
async def test_followup_edit_is_checked_like_the_initial_message(client: Client) -> None:
    record = await client.interaction()
    await client.respond(record, 5)
    status, body = await client.webhook("PATCH", record, "/messages/@original", {"content": "x" * 2001})
    assert status == 400 and _at(_form_errors(body), ("content",))
    status, body = await client.webhook("POST", record, "", {"embeds": [_embed()] * 11})
    assert status == 400 and _at(_form_errors(body), ("embeds",))


# -- modals -----------------------------------------------------------------------------------------
def _modal(title: str = "Title", rows: int = 1, label: str = "Name") -> dict[str, Any]:
    return {"custom_id": "m", "title": title, "components": [
        _row({"type": 4, "custom_id": f"f{i}", "style": 1, "label": label}) for i in range(rows)]}


BAD_MODALS = [("title of 46", _modal(title="t" * 46), ("data", "title")),
              ("no rows", _modal(rows=0), ("data", "components")),
              ("6 rows", _modal(rows=6), ("data", "components")),
              ("label of 46", _modal(label="l" * 46), ("data", "components", "0", "components", "0", "label"))]


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "modal", "path"), BAD_MODALS, ids=[c[0] for c in BAD_MODALS])
async def test_modal_over_a_limit_is_invalid_form_body(client: Client, case: str, modal: dict[str, Any],
                                                       path: tuple[str | int, ...]) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, 9, modal)
    assert status == 400 and _at(_form_errors(body), path)


# -- files ------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_file_over_the_attachment_size_limit_is_request_entity_too_large(client: Client) -> None:
    client.d.attachment_size_limit = 1024
    record = await client.interaction()
    status, body = await client.respond(record, 4, {"content": "file"}, files={"big.bin": b"x" * 1025})
    assert (status, body["code"], body["message"]) == (413, 40005, "Request entity too large")
    ok = await client.interaction()
    status, _ = await client.respond(ok, 4, {"content": "file"}, files={"fits.bin": b"x" * 1024})
    assert status == 200


@pytest.mark.asyncio
async def test_an_11_mib_file_is_over_the_default_10_mib_limit(client: Client) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, 4, {"content": "file"}, files={"big.bin": b"x" * (11 << 20)})
    assert (status, body["code"]) == (413, 40005)


# -- callback types ---------------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("kind", [6, 7, 8, 42])
async def test_callback_types_that_do_not_fit_a_slash_command_are_refused(client: Client, kind: int) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, kind, {"content": "x"})
    assert status == 400 and "type" in _form_errors(body)
    assert record.response_type is None


@pytest.mark.asyncio
async def test_a_button_press_takes_4_to_7_and_9_but_not_8(client: Client) -> None:
    record = await client.interaction()
    await client.respond(record, 4, {"content": "press", "components": [_row(_button("go"))]})
    assert record.original is not None
    press = await client.d.click(record.original, "go", guild_id=GUILD, user_id=USER)
    assert (await client.respond(press, 8, {"choices": []}))[0] == 400
    assert (await client.respond(press, 6))[0] == 200


@pytest.mark.asyncio
async def test_a_modal_submission_cannot_answer_with_another_modal(client: Client) -> None:
    record = await client.interaction()
    assert (await client.respond(record, 9, _modal()))[0] == 200
    assert record.original is not None
    submitted = await client.d.submit_modal(record.original, {"f0": "typed"}, guild_id=GUILD, user_id=USER)
    assert (await client.respond(submitted, 9, _modal()))[0] == 400
    assert (await client.respond(submitted, 4, {"content": "thanks"}))[0] == 200


@pytest.mark.asyncio
async def test_autocomplete_accepts_only_callback_8_with_at_most_25_choices(client: Client) -> None:
    record = await client.interaction("autocomplete")
    assert (await client.respond(record, 4, {"content": "x"}))[0] == 400
    choices = [{"name": f"c{i}", "value": i} for i in range(26)]
    status, body = await client.respond(record, 8, {"choices": choices})
    assert status == 400 and _at(_form_errors(body), ("data", "choices"))
    status, _ = await client.respond(record, 8, {"choices": choices[:25]})
    assert status == 200 and record.choices == choices[:25]


# -- deleted messages, follow-ups -------------------------------------------------------------------
@pytest.mark.asyncio
async def test_edit_or_delete_after_delete_is_unknown_message(client: Client) -> None:
    record = await client.interaction()
    await client.respond(record, 4, {"content": "hello"})
    assert (await client.webhook("DELETE", record, "/messages/@original"))[0] == 204
    for method, body in (("PATCH", {"content": "again"}), ("DELETE", None)):
        status, error = await client.webhook(method, record, "/messages/@original", body)
        assert (status, error["code"], error["message"]) == (404, 10008, "Unknown Message")


@pytest.mark.asyncio
async def test_followup_before_any_response_is_404(client: Client) -> None:
    record = await client.interaction()
    status, body = await client.webhook("POST", record, "", {"content": "too early"})
    assert (status, body["code"]) == (404, 10015)


# -- command registration ---------------------------------------------------------------------------
def _option(name: str, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "d", "type": 3, "required": required, **extra}


BAD_COMMANDS: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
    ("name with a space", {**WIDGET, "name": "bad name"}, ("0", "name")),
    ("name in capitals", {**WIDGET, "name": "Bad"}, ("0", "name")),
    ("name of 33", {**WIDGET, "name": "n" * 33}, ("0", "name")),
    ("description of 101", {**WIDGET, "description": "d" * 101}, ("0", "description")),
    ("empty description", {**WIDGET, "description": ""}, ("0", "description")),
    ("26 options", {**WIDGET, "options": [_option(f"o{i}") for i in range(26)]}, ("0", "options")),
    ("required after optional", {**WIDGET, "options": [_option("a"), _option("b", required=True)]},
     ("0", "options", "1")),
    ("26 choices", {**WIDGET, "options": [_option("a", choices=[{"name": f"c{i}", "value": f"{i}"}
                                                                 for i in range(26)])]},
     ("0", "options", "0", "choices")),
    ("min over max", {**WIDGET, "options": [{"name": "n", "description": "d", "type": 4, "min_value": 5,
                                             "max_value": 1}]}, ("0", "options", "0", "min_value")),
    ("26 subcommands", {**WIDGET, "options": [{"name": f"s{i}", "description": "d", "type": 1}
                                              for i in range(26)]}, ("0", "options")),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("case", "command", "path"), BAD_COMMANDS, ids=[c[0] for c in BAD_COMMANDS])
async def test_one_invalid_command_fails_the_whole_bulk_overwrite(client: Client, case: str, command: dict[str, Any],
                                                                  path: tuple[str | int, ...]) -> None:
    before = list(client.d.commands[0])
    good = {**WIDGET, "name": "good"}
    status, body = await client.call("PUT", f"/applications/{client.d.app_id}/commands", [good, command])
    assert status == 400
    errors = _form_errors(body)
    assert _at(errors, ("1", *path[1:]))
    assert client.d.commands[0] == before


@pytest.mark.asyncio
async def test_rest_calls_without_the_bots_authorization_are_401(client: Client) -> None:
    for method, path, body in (("GET", "/users/@me", None), ("GET", "/gateway/bot", None),
                               ("PUT", f"/applications/{client.d.app_id}/commands", [WIDGET]),
                               ("GET", f"/guilds/{GUILD}/invites", None),
                               ("POST", f"/channels/{client.d.guilds[GUILD].channel_id}/messages", {"content": "x"})):
        status, error = await client.call(method, path, body, auth=False)
        assert (status, error["code"]) == (401, 0), path
    syncs = client.d.command_syncs
    assert (await client.call("GET", "/users/@me"))[0] == 200 and client.d.command_syncs == syncs


# -- permissions on REST ----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_guild_invites_need_manage_server(client: Client) -> None:
    assert (await client.call("GET", f"/guilds/{GUILD}/invites"))[0] == 200
    guild = client.d.guilds[GUILD]
    await client.d.set_role_permissions(GUILD, guild.bot_role_id, perm.VIEW_CHANNEL)
    status, body = await client.call("GET", f"/guilds/{GUILD}/invites")
    assert (status, body["code"]) == (403, 50013)


@pytest.mark.asyncio
async def test_posting_in_a_channel_needs_view_send_embed_and_attach(client: Client) -> None:
    guild = client.d.guilds[GUILD]
    path = f"/channels/{guild.channel_id}/messages"
    await client.d.set_role_permissions(GUILD, GUILD, 0)  # @everyone can do nothing
    await client.d.set_role_permissions(GUILD, guild.bot_role_id, perm.VIEW_CHANNEL | perm.SEND_MESSAGES)
    assert (await client.call("POST", path, {"content": "hi"}))[0] == 200
    status, body = await client.call("POST", path, {"embeds": [_embed()]})
    assert (status, body["code"]) == (403, 50013)
    status, body = await client.call("POST", path, {"content": "f", "attachments": [{"id": 0, "filename": "a"}]},
                                     files={"a": b"1"})
    assert (status, body["code"]) == (403, 50013)
    await client.d.set_overwrite(GUILD, client.d.app_id, deny=perm.VIEW_CHANNEL, member=True)
    status, body = await client.call("POST", path, {"content": "hi"})
    assert (status, body["code"]) == (403, 50001)
    assert [m.content for m in client.d.channel_posts] == ["hi"]


# -- the callback's response (`with_response=true`) ----------------------------------------------------
@pytest.mark.asyncio
async def test_an_autocomplete_callback_response_names_no_message(client: Client) -> None:
    # Discord leaves out the message fields when the callback made no message; hikari reads any value present
    # (a null included) as the message's id, and lightbulb then logged a TypeError at every autocomplete
    record = await client.interaction("autocomplete")
    status, body = await client.respond(record, 8, {"choices": [{"name": "one", "value": 1}]})

    assert status == 200
    assert body["interaction"] == {"id": str(record.interaction_id), "type": record.kind}


@pytest.mark.asyncio
@pytest.mark.parametrize(("kind", "loading"), [(4, False), (5, True)])
async def test_a_message_callback_response_names_its_message(client: Client, kind: int, loading: bool) -> None:
    record = await client.interaction()
    status, body = await client.respond(record, kind, {"content": "hi"} if kind == 4 else None)

    assert status == 200
    assert body["interaction"]["response_message_id"] == str(record.replies[0].message_id)
    assert body["interaction"]["response_message_loading"] is loading
    assert body["interaction"]["response_message_ephemeral"] is False
