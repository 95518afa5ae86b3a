"""Part of DiscordDouble: roles and channel overwrites a test changes, with the events Discord sends."""
from __future__ import annotations

from typing import TYPE_CHECKING

from app.doubles import discord_payloads as p
from app.doubles import discord_permissions as perm
from app.doubles.discord_state import DoubleError, GuildState, RoleState

if TYPE_CHECKING:
    from app.doubles.discord_gateway import Gateway
    from app.doubles.discord_state import MemberState

GUILD_MEMBERS_INTENT = 1 << 1


class RolesMixin:
    """Roles per guild (GUILD_ROLE_CREATE/UPDATE), members' roles (GUILD_MEMBER_UPDATE), overwrites (CHANNEL_UPDATE)."""

    gateway: Gateway

    if TYPE_CHECKING:  # provided by DiscordDouble, which this mixin is part of
        def ensure_guild(self, guild_id: int, name: str | None = None) -> GuildState: ...

        def ensure_member(self, guild_id: int, user_id: int, *, name: str | None = None,
                          admin: bool = False) -> MemberState: ...

    async def add_role(self, guild_id: int, permissions: int, *, name: str | None = None,
                       members: tuple[int, ...] = ()) -> int:
        """A new role with exactly `permissions`, given to `members` (GUILD_ROLE_CREATE, GUILD_MEMBER_UPDATE)."""
        guild = self.ensure_guild(guild_id)
        role = RoleState(p.new_snowflake(), name or f"role {len(guild.roles)}", permissions, len(guild.roles))
        guild.roles[role.role_id] = role
        if guild.bot_present:
            await self.gateway.broadcast("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role.payload()})
        for user_id in members:
            self.ensure_member(guild_id, user_id).role_ids.add(role.role_id)
            await self._member_updated(guild, user_id)
        return role.role_id

    async def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> None:
        """Change a role's permissions (@everyone's id is the guild's): GUILD_ROLE_UPDATE."""
        guild = self.ensure_guild(guild_id)
        if role_id not in guild.roles:
            raise DoubleError(f"guild {guild_id} has no role {role_id}")
        guild.roles[role_id].permissions = permissions
        if guild.bot_present:
            await self.gateway.broadcast("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id),
                                                               "role": guild.roles[role_id].payload()})

    async def set_overwrite(self, guild_id: int, target_id: int, *, allow: int = 0, deny: int = 0,
                            member: bool = False) -> None:
        """Set the channel's overwrite for a role (@everyone: the guild's id) or a member: CHANNEL_UPDATE."""
        guild = self.ensure_guild(guild_id)
        kind = perm.MEMBER_OVERWRITE if member else perm.ROLE_OVERWRITE
        guild.overwrites = [o for o in guild.overwrites if (o.target_id, o.kind) != (target_id, kind)]
        guild.overwrites.append(perm.Overwrite(target_id, kind, allow, deny))
        if guild.bot_present:
            await self.gateway.broadcast("CHANNEL_UPDATE", guild.channel_payload())

    async def _member_updated(self, guild: GuildState, user_id: int) -> None:
        if guild.bot_present:
            await self.gateway.broadcast("GUILD_MEMBER_UPDATE", {**guild.member_payload(user_id),
                                                                 "guild_id": str(guild.guild_id)},
                                         intent=GUILD_MEMBERS_INTENT)
