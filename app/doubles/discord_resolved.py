"""`data.resolved` of a slash command: the users, members, roles, channels and attachments its options name."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.doubles import discord_payloads as p
from app.doubles.discord_state import DoubleError, GuildState

USER, CHANNEL, ROLE, MENTIONABLE, ATTACHMENT = 6, 7, 8, 9, 11


def _leaves(options: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for option in options:
        if option.get("type") in (1, 2):
            yield from _leaves(option.get("options") or [])
        else:
            yield option


def resolve(data: dict[str, Any], guild: GuildState | None, *, uploads: dict[str, bytes],
            base_url: str) -> None:
    """Turn entity options' values into snowflakes and add `resolved`, as Discord does.

    Raises:
        DoubleError: an option names a member, role or channel the guild does not have.
    """
    resolved: dict[str, dict[str, Any]] = {}
    for option in _leaves(data.get("options") or []):
        kind, value = option["type"], str(option["value"])
        if kind == ATTACHMENT:
            attachment_id = str(p.new_snowflake())
            content, url = uploads.get(value, b""), f"{base_url}/attachments/uploads/{value}"
            resolved.setdefault("attachments", {})[attachment_id] = {
                "id": attachment_id, "filename": value, "size": len(content), "content_type": "text/plain",
                "url": url, "proxy_url": url}
            option["value"] = attachment_id
        elif kind in (USER, CHANNEL, ROLE, MENTIONABLE):
            if guild is None:
                raise DoubleError("members, roles and channels can be named only in a server")
            _resolve_entity(resolved, guild, kind, int(value))
    if resolved:
        data["resolved"] = resolved


def _resolve_entity(resolved: dict[str, dict[str, Any]], guild: GuildState, kind: int, target: int) -> None:
    if kind in (USER, MENTIONABLE) and target in guild.members:
        member = guild.member_payload(target, with_permissions=True)
        resolved.setdefault("users", {})[str(target)] = member.pop("user")
        resolved.setdefault("members", {})[str(target)] = member
    elif kind in (ROLE, MENTIONABLE) and target in guild.roles:
        resolved.setdefault("roles", {})[str(target)] = guild.roles[target].payload()
    elif kind == CHANNEL and target == guild.channel_id:
        channel = guild.channel_payload()
        resolved.setdefault("channels", {})[str(target)] = {
            "id": channel["id"], "name": channel["name"], "type": channel["type"], "parent_id": None,
            "permissions": str(guild.permissions_of(guild.bot_id))}
    else:
        what = {USER: "member", MENTIONABLE: "member or role", ROLE: "role", CHANNEL: "channel"}[kind]
        raise DoubleError(f"guild {guild.guild_id} has no {what} {target}")
