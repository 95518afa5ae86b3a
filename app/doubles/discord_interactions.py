"""Users of the double run slash commands, press buttons and submit modals (INTERACTION_CREATE)."""
from __future__ import annotations

import asyncio
import math
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.doubles import discord_payloads as p
from app.doubles import discord_permissions as perm
from app.doubles.discord_resolved import resolve
from app.doubles.discord_state import DEFERRED_MESSAGE, DoubleClock, DoubleError, InteractionRecord, Reply

if TYPE_CHECKING:
    from app.doubles.discord_gateway import Gateway
    from app.doubles.discord_state import GuildState, MemberState

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
_INTEGER = re.compile(r"-?[0-9]+")  # ASCII: Discord's client reads no other digits (nor does it send `²`)
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_NUMBER_LIMIT = 2**53  # Discord's bound for INTEGER and NUMBER options


def _integer(raw: str) -> int:
    if not _INTEGER.fullmatch(raw) or abs(int(raw)) > _NUMBER_LIMIT:
        raise ValueError(f"a whole number between -2**53 and 2**53, not {raw!r}")
    return int(raw)


def _number(raw: str) -> float:
    value = float(raw) if _NUMBER.fullmatch(raw) else math.nan
    if not abs(value) <= _NUMBER_LIMIT:  # nan, inf and what overflowed to it
        raise ValueError(f"a number between -2**53 and 2**53, not {raw!r}")
    return value


def _boolean(raw: str) -> bool:
    if raw.lower() not in _BOOLEANS:
        raise ValueError(f"true or false, not {raw!r}")
    return _BOOLEANS[raw.lower()]


def _snowflake(raw: str) -> str:
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**64:
        raise ValueError(f"an id (a positive whole number), not {raw!r}")
    return str(int(raw))


_CONVERT: dict[int, Callable[[str], Any]] = {
    4: _integer, 10: _number, 5: _boolean, 6: _snowflake, 7: _snowflake, 8: _snowflake, 9: _snowflake}


def _typed(declared: dict[str, Any], raw: str) -> Any:
    try:
        return _CONVERT.get(declared["type"], str)(raw)
    except ValueError as error:
        raise DoubleError(f"option {declared['name']!r} takes {error}") from None


def _chosen(declared: dict[str, Any], raw: str) -> Any:
    """The value of the choice picked: Discord's client shows the names and sends the chosen one's value, so a
    script may give either (a name in any case). Anything else goes as typed, as a modified client (or a command
    changed since the client loaded it) would send it: the bot checks its choices again and answers."""
    for choice in declared["choices"]:
        if raw.casefold() == str(choice["name"]).casefold():
            return choice["value"]
    return _typed(declared, raw)


def _check_typed(field: dict[str, Any], typed: str) -> None:
    """Discord's client submits a form only when each field is empty and optional or within its lengths.

    Raises:
        DoubleError: a value the client would not let the member submit.
    """
    low, high = int(field.get("min_length") or 0), int(field.get("max_length") or 4000)
    if (typed or field.get("required", True)) and not max(low, 1) <= len(typed) <= high:
        needed = "" if field.get("required", True) else "empty or "
        raise DoubleError(f"field {field.get('label') or field['custom_id']!r} takes {needed}between "
                          f"{max(low, 1)} and {high} characters, not {len(typed)}")


def _find(options: list[dict[str, Any]], name: str, kinds: tuple[int, ...]) -> dict[str, Any] | None:
    return next((o for o in options if o["name"] == name and o.get("type") in kinds), None)


def build_command_data(command: dict[str, Any], path: list[str], values: dict[str, str], *,
                       focused: str | None = None) -> dict[str, Any]:
    """The `data` of a slash command interaction: nested subcommands, option values typed as declared.

    With `focused`, an autocomplete's: that option's partial text as typed, required options may be missing.
    """
    level: list[dict[str, Any]] = command.get("options") or []
    chain: list[dict[str, Any]] = []
    for word in path:
        sub = _find(level, word, (SUB_COMMAND, SUB_COMMAND_GROUP))
        if sub is None:
            raise DoubleError(f"/{command['name']} has no subcommand {word!r}")
        chain.append({"name": sub["name"], "type": sub["type"], "options": []})
        level = sub.get("options") or []
    if any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in level):
        subs = ", ".join(o["name"] for o in level)
        raise DoubleError(f"/{' '.join([command['name'], *path])} needs a subcommand: {subs}")
    leaf: list[dict[str, Any]] = []
    for name, raw in values.items():
        declared = _find(level, name, tuple(range(3, 12)))
        if declared is None:
            known = ", ".join(o["name"] for o in level) or "none"
            raise DoubleError(f"/{' '.join([command['name'], *path])} has no option {name!r} (options: {known})")
        if name == focused:
            if not declared.get("autocomplete"):
                raise DoubleError(f"option {name!r} of /{command['name']} has no autocomplete")
            leaf.append({"name": name, "type": declared["type"], "value": raw, "focused": True})
            continue
        value = _chosen(declared, raw) if declared.get("choices") else _typed(declared, raw)
        leaf.append({"name": name, "type": declared["type"], "value": value})
    missing = [o["name"] for o in level if o.get("required") and o["name"] not in values]
    if missing and focused is None:
        raise DoubleError(f"missing required option(s): {', '.join(missing)}")
    options = leaf
    for link in reversed(chain):
        link["options"] = options
        options = [link]
    data = {"id": command["id"], "name": command["name"], "type": 1, "options": options}
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


class InteractionsMixin:
    """Part of DiscordDouble: sending interactions and waiting for the bot's answers."""

    app_id: int
    bot_user: dict[str, Any]
    gateway: Gateway
    commands: dict[int, list[dict[str, Any]]]
    interactions: dict[str, InteractionRecord]
    messages: dict[int, Reply]
    clock: DoubleClock
    attachment_size_limit: int
    uploads: dict[str, bytes]  # attachment options: file name → content

    if TYPE_CHECKING:  # provided by DiscordDouble, which this mixin is part of
        def ensure_guild(self, guild_id: int, name: str | None = None) -> GuildState: ...

        @property
        def rest_url(self) -> str: ...

        def ensure_member(self, guild_id: int, user_id: int, *, name: str | None = None,
                          admin: bool = False) -> MemberState: ...

    def find_command(self, name: str, guild_id: int | None) -> dict[str, Any]:
        for scope in ([guild_id] if guild_id else []) + [0]:
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command
        raise DoubleError(f"there is no slash command /{name}")

    async def invoke(self, guild_id: int | None, user_id: int, command: str,
                     options: dict[str, str] | None = None, *, admin: bool = False) -> InteractionRecord:
        """A user runs `/command [sub...]` (space-separated path) in a guild, or in a DM if guild_id is None."""
        name, *path = command.strip().lstrip("/").split()
        data = build_command_data(self.find_command(name, guild_id), path, dict(options or {}))
        guild = self.ensure_guild(guild_id) if guild_id is not None else None
        resolve(data, guild, uploads=self.uploads, base_url=self.rest_url.removesuffix("/api/v10"))
        return await self._send(APPLICATION_COMMAND, guild_id, user_id, data, admin=admin)

    async def autocomplete(self, guild_id: int | None, user_id: int, command: str, option: str, partial: str,
                           options: dict[str, str] | None = None) -> InteractionRecord:
        """A user types `partial` into `option` of `/command [sub...]`: an autocomplete interaction (type 4)."""
        name, *path = command.strip().lstrip("/").split()
        values = {**(options or {}), option: partial}
        data = build_command_data(self.find_command(name, guild_id), path, values, focused=option)
        return await self._send(AUTOCOMPLETE, guild_id, user_id, data, admin=False)

    async def select(self, reply: Reply, custom_id: str, values: list[str], *, guild_id: int | None, user_id: int,
                     admin: bool = False) -> InteractionRecord:
        """A user picks `values` in a string select menu (component type 3) on a message the bot sent."""
        menu = next((c for c in reply.selects() if c.get("custom_id") == custom_id), None)
        if menu is None:
            raise DoubleError(f"the message has no select menu {custom_id!r}")
        offered = [str(o.get("value")) for o in menu.get("options", [])]
        unknown = [v for v in values if v not in offered]
        if unknown:
            raise DoubleError(f"{', '.join(unknown)} not offered (options: {', '.join(offered)})")
        low, high = int(menu.get("min_values", 1)), int(menu.get("max_values", 1))
        if not low <= len(values) <= high:
            raise DoubleError(f"choose between {low} and {high} option(s), not {len(values)}")
        data = {"custom_id": custom_id, "component_type": 3, "values": values}
        return await self._send(MESSAGE_COMPONENT, guild_id, user_id, data, admin=admin, message=reply)

    async def wait_choices(self, record: InteractionRecord, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The bot's answer to an autocomplete: the choices offered."""
        async with asyncio.timeout(timeout):
            while record.choices is None:
                record.changed.clear()
                await record.changed.wait()
        return record.choices

    async def click(self, reply: Reply, custom_id: str, *, guild_id: int | None, user_id: int,
                    admin: bool = False) -> InteractionRecord:
        """A user presses a button (by custom_id) on a message the bot sent."""
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._send(MESSAGE_COMPONENT, guild_id, user_id, data, admin=admin, message=reply)

    async def submit_modal(self, modal: Reply, values: dict[str, str], *, guild_id: int | None,
                           user_id: int, admin: bool = False) -> InteractionRecord:
        """A user fills in and submits a modal the bot showed."""
        form = modal.modal or {}
        rows = []
        for row in form.get("components", []):
            for field in row.get("components", []):
                _check_typed(field, values.get(field["custom_id"], ""))
            inputs = [{"type": 4, "id": c.get("id") or 0, "custom_id": c["custom_id"],
                       "value": values.get(c["custom_id"], "")} for c in row.get("components", [])]
            rows.append({"type": 1, "id": row.get("id") or 0, "components": inputs})
        data = {"custom_id": form.get("custom_id", ""), "components": rows}
        # a modal opened from a button carries that button's message, which the submission may update (6, 7)
        opener = next((r for r in self.interactions.values() if modal in r.replies), None)
        message = self.messages.get(opener.source_message_id or 0) if opener is not None else None
        return await self._send(MODAL_SUBMIT, guild_id, user_id, data, admin=admin, message=message)

    async def _send(self, kind: int, guild_id: int | None, user_id: int, data: dict[str, Any], *,
                    admin: bool, message: Reply | None = None) -> InteractionRecord:
        record = InteractionRecord(p.new_snowflake(), f"itok-{secrets.token_hex(12)}", guild_id, user_id, kind,
                                   source_message_id=message.message_id if message else None,
                                   created_at=self.clock(), attachment_size_limit=self.attachment_size_limit)
        self.interactions[record.token] = record
        member_payload = None
        if guild_id is not None:
            guild = self.ensure_guild(guild_id)
            member = self.ensure_member(guild_id, user_id)
            user_payload = member.user_payload()
            # admin: this interaction is by a member of the Admins role, whatever their stored roles say
            member_payload = guild.member_payload(user_id, with_permissions=True,
                                                  extra_roles={guild.admin_role_id} if admin else None)
            channel = guild.channel_payload()
            app_permissions = guild.permissions_of(self.app_id)
        else:
            user_payload = p.user(user_id, f"user{str(user_id)[-4:]}")
            channel = {"id": str(user_id), "type": 1, "recipients": [user_payload]}
            app_permissions = perm.DM_APP_PERMISSIONS
        payload = p.interaction(interaction_id=record.interaction_id, app_id=self.app_id, kind=kind,
                                token=record.token, guild_id=guild_id, channel=channel, data=data,
                                member_payload=member_payload, user_payload=user_payload,
                                app_permissions=app_permissions, message_payload=message.payload if message else None,
                                attachment_size_limit=record.attachment_size_limit)
        await self.gateway.broadcast("INTERACTION_CREATE", payload)
        return record

    async def wait_reply(self, record: InteractionRecord, *, timeout: float = 10.0) -> Reply:
        """The bot's first answer as the member sees it: a message (a deferred one once edited, or the private
        follow-up that replaced a deleted public "thinking…") or a modal."""
        async with asyncio.timeout(timeout):
            while True:
                reply = record.original
                if reply is not None and reply.kind == "deleted" and record.response_type == DEFERRED_MESSAGE:
                    if len(record.replies) > 1:  # the follow-up that replaced the "thinking…"
                        return record.replies[1]
                elif reply is not None and reply.kind != "deferred":
                    return reply
                updated = record.response_type == 7 or (record.response_type == 6 and record.source_edited)
                if updated and record.source_message_id in self.messages:
                    return self.messages[record.source_message_id]
                record.changed.clear()
                await record.changed.wait()

    async def wait_followups(self, record: InteractionRecord, count: int, *, timeout: float = 10.0
                             ) -> list[Reply]:
        """Wait until the interaction has `count` messages after the original; return them."""
        async with asyncio.timeout(timeout):
            while len(record.replies) < count + 1:
                record.changed.clear()
                await record.changed.wait()
        return record.replies[1:]

    def forget(self, record: InteractionRecord) -> None:
        """Drop an answered interaction and its messages (long benchmark runs)."""
        self.interactions.pop(record.token, None)
        for reply in record.replies:
            self.messages.pop(reply.message_id, None)
