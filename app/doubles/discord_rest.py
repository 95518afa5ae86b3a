"""The double's REST routes: what hikari and lightbulb call at startup and per interaction."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from app.doubles import discord_payloads as p
from app.doubles.discord_state import EPHEMERAL, Attachment, InteractionRecord, Reply

if TYPE_CHECKING:
    from app.doubles.discord import DiscordDouble

API = "/api/v10"
_MESSAGE, _DEFERRED, _DEFERRED_UPDATE, _UPDATE, _MODAL = 4, 5, 6, 7, 9


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


async def read_body(request: web.Request) -> tuple[dict[str, Any], list[Attachment]]:
    """A JSON body, or a multipart one (payload_json + files[n]) as hikari sends attachments."""
    if not request.content_type.startswith("multipart/"):
        return (await request.json() if request.can_read_body else {}), []
    body: dict[str, Any] = {}
    files: dict[str, Attachment] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "payload_json":
            body = json.loads(await part.text())
        elif part.name:
            files[part.name] = Attachment(part.filename or part.name, bytes(await part.read()))
    message = body.get("data", body) if "type" in body else body  # callbacks wrap the message in `data`
    listed = message.get("attachments") or []
    return body, [files[f"files[{a['id']}]"] for a in listed if f"files[{a['id']}]" in files]


class RestRoutes:
    """aiohttp handlers bound to one double."""

    def __init__(self, double: DiscordDouble) -> None:
        self.d = double

    def install(self, app: web.Application) -> None:
        r = app.router
        r.add_get(f"{API}/gateway/bot", self.gateway_bot)
        r.add_get(f"{API}/oauth2/applications/@me", self.application)
        r.add_get(f"{API}/users/@me", self.me)
        r.add_get(f"{API}/applications/{{app}}/commands", self.get_commands)
        r.add_put(f"{API}/applications/{{app}}/commands", self.put_commands)
        r.add_get(f"{API}/applications/{{app}}/guilds/{{guild}}/commands", self.get_commands)
        r.add_put(f"{API}/applications/{{app}}/guilds/{{guild}}/commands", self.put_commands)
        r.add_get(f"{API}/guilds/{{guild}}/invites", self.guild_invites)
        r.add_post(f"{API}/interactions/{{id}}/{{token}}/callback", self.callback)
        r.add_patch(f"{API}/webhooks/{{app}}/{{token}}/messages/{{message}}", self.edit_message)
        r.add_delete(f"{API}/webhooks/{{app}}/{{token}}/messages/{{message}}", self.delete_message)
        r.add_post(f"{API}/webhooks/{{app}}/{{token}}", self.followup)

    # -- startup ---------------------------------------------------------
    async def gateway_bot(self, request: web.Request) -> web.Response:
        if not self.d.authorized(request):
            return _error(401, 0, "401: Unauthorized")
        return web.json_response({"url": self.d.gateway_url, "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}})

    async def application(self, request: web.Request) -> web.Response:
        return web.json_response(p.application(self.d.app_id, self.d.owner, len(self.d.guilds)))

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response(self.d.bot_user)

    async def get_commands(self, request: web.Request) -> web.Response:
        scope = int(request.match_info.get("guild", 0))
        return web.json_response(self.d.commands.get(scope, []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = int(request.match_info.get("guild", 0))
        stored = []
        for command in await request.json():
            stored.append({**command, "id": str(p.new_snowflake()), "application_id": str(self.d.app_id),
                           "version": str(p.new_snowflake()), "guild_id": str(scope) if scope else None,
                           "default_member_permissions": command.get("default_member_permissions"),
                           "type": command.get("type", 1), "options": command.get("options", [])})
        self.d.commands[scope] = stored
        self.d.command_syncs += 1
        return web.json_response(stored)

    async def guild_invites(self, request: web.Request) -> web.Response:
        if not self.d.authorized(request):
            return _error(401, 0, "401: Unauthorized")
        guild = self.d.guilds.get(int(request.match_info["guild"]))
        if guild is None or not guild.bot_present:
            return _error(404, 10004, "Unknown Guild")
        return web.json_response([guild.invite_payload(i) for i in guild.invites.values()])

    # -- interactions ----------------------------------------------------
    async def callback(self, request: web.Request) -> web.Response:
        record = self.d.interactions.get(request.match_info["token"])
        if record is None or str(record.interaction_id) != request.match_info["id"]:
            return _error(404, 10062, "Unknown interaction")
        if record.response_type is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        body, files = await read_body(request)
        kind, data = int(body["type"]), body.get("data") or {}
        record.response_type = kind
        reply = self._apply_callback(record, kind, data, files)
        record.touch()
        resource: dict[str, Any] = {"type": kind}
        if reply is not None and reply.kind != "modal":
            resource["message"] = reply.payload
        return web.json_response({"interaction": {
            "id": str(record.interaction_id), "type": record.kind,
            "response_message_id": str(reply.message_id) if reply else None,
            "response_message_loading": kind == _DEFERRED,
            "response_message_ephemeral": bool(reply and reply.ephemeral)}, "resource": resource})

    def _apply_callback(self, record: InteractionRecord, kind: int, data: dict[str, Any],
                        files: list[Attachment]) -> Reply | None:
        if kind == _MODAL:
            modal = {**data, "components": p.with_component_ids(data.get("components") or [])}
            reply = Reply(p.new_snowflake(), "modal", ephemeral=True, modal=modal)
            record.replies.append(reply)
            return reply
        if kind in (_UPDATE, _DEFERRED_UPDATE):
            source = self.d.messages.get(record.source_message_id or 0)
            if source is not None and kind == _UPDATE:
                self.d.fill_reply(source, data, files, record)
            return source
        reply = Reply(p.new_snowflake(), "deferred" if kind == _DEFERRED else "message",
                      ephemeral=bool(int(data.get("flags") or 0) & EPHEMERAL))
        self.d.fill_reply(reply, data, files, record)
        record.replies.append(reply)
        return reply

    def _target(self, request: web.Request) -> tuple[InteractionRecord | None, Reply | None]:
        record = self.d.interactions.get(request.match_info["token"])
        if record is None:
            return None, None
        message = request.match_info["message"]
        if message == "@original":
            if record.source_message_id is not None and record.response_type in (_UPDATE, _DEFERRED_UPDATE):
                return record, self.d.messages.get(record.source_message_id)
            return record, record.original
        return record, self.d.messages.get(int(message))

    async def edit_message(self, request: web.Request) -> web.Response:
        record, reply = self._target(request)
        if record is None or reply is None:
            return _error(404, 10008, "Unknown Message")
        body, files = await read_body(request)
        if reply.kind == "deferred":
            reply.kind = "message"
        self.d.fill_reply(reply, body, files, record, edit=True)
        record.touch()
        return web.json_response(reply.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        record, reply = self._target(request)
        if record is None or reply is None:
            return _error(404, 10008, "Unknown Message")
        reply.kind = "deleted"
        record.touch()
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.Response:
        record = self.d.interactions.get(request.match_info["token"])
        if record is None:
            return _error(404, 10015, "Unknown Webhook")
        if record.response_type is None:
            return _error(400, 10015, "Unknown Webhook")
        body, files = await read_body(request)
        original = record.original
        if original is not None and original.kind == "deferred":
            # as on Discord: the first follow-up after a deferral completes the "thinking…" message
            original.kind = "message"
            self.d.fill_reply(original, body, files, record)
            record.touch()
            return web.json_response(original.payload)
        reply = Reply(p.new_snowflake(), "message", ephemeral=bool(int(body.get("flags") or 0) & EPHEMERAL))
        self.d.fill_reply(reply, body, files, record)
        record.replies.append(reply)
        record.touch()
        return web.json_response(reply.payload)
