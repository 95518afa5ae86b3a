"""The double's interaction routes: the callback, `@original` and follow-ups, with Discord's refusals.

3 s to send the initial response (then 10062), 15 minutes of token (then 50027), callback types that fit
the interaction, no follow-up before a response (404), nothing on a deleted message (10008), and the
message and modal limits of `discord_limits`.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from app.doubles import discord_limits as limits
from app.doubles import discord_payloads as p
from app.doubles.discord_errors import (
    ALREADY_ACKNOWLEDGED,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    RestError,
    invalid_form,
)
from app.doubles.discord_state import DEFERRED_MESSAGE, EPHEMERAL, Attachment, InteractionRecord, Reply

if TYPE_CHECKING:
    from app.doubles.discord import DiscordDouble

_MESSAGE, _DEFERRED_UPDATE, _UPDATE, _AUTOCOMPLETE, _MODAL = 4, 6, 7, 8, 9
INITIAL_RESPONSE_S = 3.0
TOKEN_LIFETIME_S = 15 * 60.0
# interaction type → callback types Discord accepts (receiving-and-responding.mdx); a modal submission updates
# (6, 7) only the message of the button that opened the modal
ALLOWED_CALLBACKS = {2: {_MESSAGE, DEFERRED_MESSAGE, _MODAL},
                     3: {_MESSAGE, DEFERRED_MESSAGE, _DEFERRED_UPDATE, _UPDATE, _MODAL},
                     4: {_AUTOCOMPLETE}, 5: {_MESSAGE, DEFERRED_MESSAGE, _DEFERRED_UPDATE, _UPDATE}}


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


class InteractionRoutes:
    """aiohttp handlers bound to one double."""

    def __init__(self, double: DiscordDouble) -> None:
        self.d = double

    def install(self, app: web.Application, api: str) -> None:
        r = app.router
        r.add_post(f"{api}/interactions/{{id}}/{{token}}/callback", self.callback)
        r.add_get(f"{api}/webhooks/{{app}}/{{token}}/messages/{{message}}", self.get_message)
        r.add_patch(f"{api}/webhooks/{{app}}/{{token}}/messages/{{message}}", self.edit_message)
        r.add_delete(f"{api}/webhooks/{{app}}/{{token}}/messages/{{message}}", self.delete_message)
        r.add_post(f"{api}/webhooks/{{app}}/{{token}}", self.followup)

    def _record(self, request: web.Request) -> InteractionRecord:
        """The interaction of a webhook token still valid (15 minutes).

        Raises:
            RestError: 404 10015 for an unknown token, 401 50027 for an expired one.
        """
        record = self.d.interactions.get(request.match_info["token"])
        if record is None or request.match_info.get("app", str(self.d.app_id)) != str(self.d.app_id):
            raise RestError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        if self.d.clock() - record.created_at > TOKEN_LIFETIME_S:
            raise RestError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        return record

    async def callback(self, request: web.Request) -> web.Response:
        record = self.d.interactions.get(request.match_info["token"])
        if (record is None or str(record.interaction_id) != request.match_info["id"]
                or self.d.clock() - record.created_at > INITIAL_RESPONSE_S):
            raise RestError(404, UNKNOWN_INTERACTION, "Unknown interaction")
        if record.response_type is not None:
            raise RestError(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
        body, files = await read_body(request)
        kind, data = int(body.get("type") or 0), body.get("data") or {}
        updates_nothing = kind in (_DEFERRED_UPDATE, _UPDATE) and record.source_message_id is None
        if kind not in ALLOWED_CALLBACKS.get(record.kind, set()) or updates_nothing:
            raise invalid_form([(("type",), "INTERACTION_CALLBACK_TYPE_INVALID",
                                 f"Interaction callback type {kind} is not valid for interaction type {record.kind}")])
        self._check_callback(record, kind, data, files)
        record.response_type = kind
        reply = self._apply_callback(record, kind, data, files)
        record.touch()
        resource: dict[str, Any] = {"type": kind}
        interaction: dict[str, Any] = {"id": str(record.interaction_id), "type": record.kind}
        if reply is not None and reply.kind != "modal":  # Discord leaves these out when the callback made no message
            interaction.update(response_message_id=str(reply.message_id),
                               response_message_loading=kind == DEFERRED_MESSAGE,
                               response_message_ephemeral=bool(reply.ephemeral))
            resource["message"] = reply.payload
        return web.json_response({"interaction": interaction, "resource": resource})

    @staticmethod
    def _check_callback(record: InteractionRecord, kind: int, data: dict[str, Any], files: list[Attachment]) -> None:
        if kind == _MODAL:
            limits.check_modal(data)
        elif kind == _AUTOCOMPLETE:
            choices = list(data.get("choices") or [])
            errors: list[tuple[tuple[str | int, ...], str, str]] = []
            limits.max_items(errors, ("data", "choices"), choices, 25)
            for i, choice in enumerate(choices):
                limits.max_length(errors, ("data", "choices", i, "name"), choice.get("name") or "", 100, minimum=1)
                if isinstance(choice.get("value"), str):  # up to 100 characters if a string
                    limits.max_length(errors, ("data", "choices", i, "value"), choice["value"], 100)
            limits.check_form(errors)
        elif kind in (_MESSAGE, _UPDATE):
            limits.check_message(data, files=len(files), path=("data",), edit=kind == _UPDATE)
        limits.check_files([f.size for f in files], record.attachment_size_limit)

    def _apply_callback(self, record: InteractionRecord, kind: int, data: dict[str, Any],
                        files: list[Attachment]) -> Reply | None:
        if kind == _AUTOCOMPLETE:
            record.choices = list(data.get("choices") or [])
            return None
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
        reply = Reply(p.new_snowflake(), "deferred" if kind == DEFERRED_MESSAGE else "message",
                      ephemeral=bool(int(data.get("flags") or 0) & EPHEMERAL))
        self.d.fill_reply(reply, data, files, record)
        record.replies.append(reply)
        return reply

    def _target(self, request: web.Request) -> tuple[InteractionRecord, Reply]:
        """Raises:
            RestError: 10015/50027 for the token, 10008 for a message that is not there (or was deleted).
        """
        record = self._record(request)
        message = request.match_info["message"]
        if message == "@original":
            if record.source_message_id is not None and record.response_type in (_UPDATE, _DEFERRED_UPDATE):
                reply = self.d.messages.get(record.source_message_id)
            else:
                reply = record.original if record.original and record.original.kind != "modal" else None
        else:
            reply = self.d.messages.get(int(message)) if message.isdigit() else None
        if reply is None or reply.kind == "deleted":
            raise RestError(404, UNKNOWN_MESSAGE, "Unknown Message")
        return record, reply

    async def get_message(self, request: web.Request) -> web.Response:
        _, reply = self._target(request)
        return web.json_response(reply.payload)

    async def edit_message(self, request: web.Request) -> web.Response:
        record, reply = self._target(request)
        body, files = await read_body(request)
        limits.check_message(body, files=len(files), edit=True)
        limits.check_files([f.size for f in files], record.attachment_size_limit)
        if reply.kind == "deferred":
            reply.kind = "message"
        record.source_edited = record.source_edited or reply.message_id == record.source_message_id
        self.d.fill_reply(reply, body, files, record, edit=True)
        record.touch()
        return web.json_response(reply.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        record, reply = self._target(request)
        reply.kind = "deleted"
        record.touch()
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.Response:
        record = self._record(request)
        if record.response_type is None:  # Discord answers 404 here, not 400
            raise RestError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        body, files = await read_body(request)
        original = record.original
        deferred = original is not None and original.kind == "deferred"
        limits.check_message(body, files=len(files))
        limits.check_files([f.size for f in files], record.attachment_size_limit)
        if deferred and original is not None:
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
