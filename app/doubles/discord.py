"""A local Discord (REST + gateway on 127.0.0.1) that the real hikari GatewayBot connects to unmodified.

The test or sandbox drives the world (guilds, members, messages) and plays users
who run slash commands, press buttons and submit modals; the double records what
the bot answers. Like a server whose admins changed a command's permissions in
Server Settings → Integrations, it delivers every command to whoever runs it,
and it can even deliver a guild-only command in a DM: the bot must refuse both
on its own.
"""
from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web

from app.doubles import discord_payloads as p
from app.doubles import discord_permissions as perm
from app.doubles.discord_gateway import Gateway, GatewaySession
from app.doubles.discord_http import RateLimits, make_middleware
from app.doubles.discord_interactions import InteractionsMixin
from app.doubles.discord_rest import RestRoutes
from app.doubles.discord_roles import RolesMixin
from app.doubles.discord_state import (
    Attachment,
    DoubleClock,
    DoubleError,
    GuildState,
    InteractionRecord,
    InviteState,
    MemberState,
    Reply,
)
from app.doubles.loopback import LoopbackServer, Served

__all__ = ["DiscordDouble", "DoubleError"]

GUILDS, GUILD_MEMBERS, GUILD_INVITES, GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 1, 1 << 6, 1 << 9, 1 << 15


class DiscordDouble(InteractionsMixin, RolesMixin, Served):
    """Start with `async with DiscordDouble() as double:`; point hikari at `double.rest_url`."""

    def __init__(self, *, app_id: int | None = None, allow_guild_members_intent: bool = True) -> None:
        self.app_id = app_id or p.new_snowflake()
        self.token = p.make_token(self.app_id)
        self.bot_user = p.user(self.app_id, "guildshelf", bot=True)
        self.owner = p.user(p.new_snowflake(), "operator")
        self.guilds: dict[int, GuildState] = {}
        self.commands: dict[int, list[dict[str, Any]]] = {}  # 0: global
        self.command_syncs = 0
        self.interactions: dict[str, InteractionRecord] = {}
        self.messages: dict[int, Reply] = {}
        self.channel_posts: list[Reply] = []  # messages the bot posted with POST /channels/{id}/messages
        self.clock = DoubleClock()
        self.rate_limits = RateLimits(clock=self.clock)
        self.attachment_size_limit = p.DEFAULT_ATTACHMENT_LIMIT  # what interactions announce
        self.invite_list_gate: asyncio.Event | None = None  # set: GET /guilds/{id}/invites waits for it
        self.uploads: dict[str, bytes] = {}  # files users attach to attachment options, by name
        self.gateway = Gateway(self.token, self._ready_payloads,
                               refuse_intents=0 if allow_guild_members_intent else GUILD_MEMBERS,
                               on_request_members=self._member_chunks)
        self._http = LoopbackServer()
        self.port = 0
        self.recommended_shards = 1  # GET /gateway/bot's "shards"
        self.max_concurrency = 1  # shards that may IDENTIFY in one 5-second window

    # -- server ------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024,
                              middlewares=[make_middleware(self.authorized, self.rate_limits)])
        RestRoutes(self).install(app)
        app.router.add_get("/gateway", self.gateway.handle)
        self.port = await self._http.serve(app, shutdown_timeout=1.0)

    async def stop(self) -> None:
        await self.gateway.close()
        await self._http.close()

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bot {self.token}"

    async def wait_connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.gateway.sessions:
                await asyncio.sleep(0.01)

    def _ready_payloads(self, session: GatewaySession) -> list[tuple[str, dict[str, Any]]]:
        present = [g for g in self.guilds.values() if g.bot_present and session.serves(g.guild_id)]
        ready = {"v": 10, "user": self.bot_user, "guilds": [{"id": str(g.guild_id), "unavailable": True}
                                                           for g in present],
                 "session_id": session.session_id, "resume_gateway_url": self.gateway_url,
                 "shard": list(session.shard), "application": {"id": str(self.app_id), "flags": 0}}
        return [("READY", ready), *(("GUILD_CREATE", g.create_payload(at_startup=True)) for g in present
                                    if not g.unavailable)]

    def _member_chunks(self, session: GatewaySession, data: dict[str, Any]) -> list[dict[str, Any]]:
        """op 8: the whole list (query "", limit 0) needs GUILD_MEMBERS, as on Discord."""
        guild = self.guilds.get(int(data.get("guild_id") or 0))
        if guild is None or not guild.bot_present:
            return []
        user_ids = data.get("user_ids")
        if user_ids is None and not session.intents & GUILD_MEMBERS:
            raise DoubleError("requesting every member needs the GUILD_MEMBERS intent")
        ids = [int(u) for u in ([user_ids] if isinstance(user_ids, (str, int)) else user_ids)] if user_ids else None
        return guild.member_chunks(user_ids=ids, query=str(data.get("query") or ""),
                                   limit=int(data.get("limit") or 0), nonce=data.get("nonce"))

    # -- the world ---------------------------------------------------------
    def ensure_guild(self, guild_id: int, name: str | None = None) -> GuildState:
        """The guild as Discord knows it (the bot is not necessarily in it)."""
        guild = self.guilds.get(guild_id)
        if guild is None:
            guild = self.guilds[guild_id] = GuildState(
                guild_id, name or f"Server {str(guild_id)[-4:]}", owner_id=self.owner_id_for(guild_id),
                channel_id=p.new_snowflake(), admin_role_id=p.new_snowflake(), bot_role_id=p.new_snowflake(),
                bot_id=self.app_id)
        return guild

    def place_bot(self, guild_id: int, name: str | None = None) -> GuildState:
        """The bot is in the guild (no event: for guilds it is in before it connects), with its own role."""
        guild = self.ensure_guild(guild_id, name)
        guild.bot_present = True
        guild.members[self.app_id] = MemberState(self.app_id, "guildshelf", p.iso_now(), {guild.bot_role_id},
                                                 bot=True)
        return guild

    def owner_id_for(self, guild_id: int) -> int:
        return guild_id + 1

    def ensure_member(self, guild_id: int, user_id: int, *, name: str | None = None,
                      admin: bool = False, joining: bool = False) -> MemberState:
        """The member (a user first seen becomes one: a script needs no `join` line before a command).

        Raises:
            DoubleError: the user left the guild and has not joined again (`joining`: this is the join).
        """
        guild = self.ensure_guild(guild_id)
        if user_id in guild.left:
            if not joining:
                raise DoubleError(f"user {user_id} left guild {guild_id}: Discord delivers nothing of theirs there "
                                  "until they join again (a `join` line)")
            guild.left.discard(user_id)
        found = guild.members.get(user_id)
        if found is None:
            found = guild.members[user_id] = MemberState(user_id, name or f"user{str(user_id)[-4:]}", p.iso_now())
        if admin:
            found.role_ids.add(guild.admin_role_id)
        return found

    async def add_bot(self, guild_id: int, name: str | None = None) -> None:
        """The bot is added to the guild: GUILD_CREATE."""
        guild = self.place_bot(guild_id, name)
        guild.joined_at = p.iso_now()
        await self.gateway.broadcast("GUILD_CREATE", guild.create_payload())

    async def remove_bot(self, guild_id: int) -> None:
        """The bot is removed (kicked) from the guild: GUILD_DELETE without `unavailable`."""
        guild = self._guild_with_bot(guild_id)
        guild.bot_present = False
        await self.gateway.broadcast("GUILD_DELETE", {"id": str(guild_id)})

    async def outage(self, guild_id: int) -> None:
        """The guild becomes unavailable (a Discord outage): GUILD_DELETE with `unavailable: true`."""
        guild = self._guild_with_bot(guild_id)
        guild.unavailable = True
        await self.gateway.broadcast("GUILD_DELETE", {"id": str(guild_id), "unavailable": True})

    async def recover(self, guild_id: int) -> None:
        """The outage ends: GUILD_CREATE again (with `unavailable: false`)."""
        guild = self._guild_with_bot(guild_id)
        guild.unavailable = False
        await self.gateway.broadcast("GUILD_CREATE", guild.create_payload(at_startup=True))

    async def create_invite(self, guild_id: int, inviter_id: int, *, code: str | None = None,
                            max_uses: int = 0) -> str:
        """A member creates an invite: INVITE_CREATE (with the GUILD_INVITES intent)."""
        guild = self._guild_with_bot(guild_id)
        self.ensure_member(guild_id, inviter_id)
        invite = InviteState(code or secrets.token_urlsafe(6), inviter_id, max_uses=max_uses)
        guild.invites[invite.code] = invite
        await self._invite_event(guild, "INVITE_CREATE", guild.invite_payload(invite, event=True))
        return invite.code

    async def _invite_event(self, guild: GuildState, event: str, data: dict[str, Any]) -> None:
        """Invite events reach the bot with GUILD_INVITES and Manage Channels in that channel only."""
        if guild.permissions_of(self.app_id) & perm.MANAGE_CHANNELS:
            await self.gateway.broadcast(event, data, intent=GUILD_INVITES)

    async def member_join(self, guild_id: int, user_id: int, *, name: str | None = None,
                          invite: str | None = None, vanity: bool = False, delete_first: bool = False) -> None:
        """A user joins by `invite` (its use count rises), by the vanity URL (`vanity`: its own counter), or
        with no invite the bot could see. An invite reaching max_uses is deleted with INVITE_DELETE after the
        GUILD_MEMBER_ADD, or before it with `delete_first` (Discord guarantees no order).
        """
        guild = self._guild_with_bot(guild_id)
        if user_id in guild.joined:
            raise DoubleError(f"user {user_id} is already a member of guild {guild_id}: Discord sends one member-add "
                              "per arrival (a `leave` line comes first)")
        used = guild.invites.get(invite) if invite else None
        if invite and used is None:
            raise DoubleError(f"there is no invite {invite!r} in guild {guild_id}")
        if vanity and not guild.vanity_code:
            raise DoubleError(f"guild {guild_id} has no vanity URL")
        member = self.ensure_member(guild_id, user_id, name=name, joining=True)
        guild.joined.add(user_id)
        guild.vanity_uses += int(vanity)
        if used is not None:
            used.uses += 1
        exhausted = used is not None and bool(used.max_uses) and used.uses >= used.max_uses
        if exhausted and delete_first:
            await self._delete_used_invite(guild, used)
        payload = guild.member_payload(member.user_id)
        await self.gateway.broadcast("GUILD_MEMBER_ADD", {**payload, "guild_id": str(guild_id)},
                                     intent=GUILD_MEMBERS)
        if exhausted and not delete_first:
            await self._delete_used_invite(guild, used)

    async def _delete_used_invite(self, guild: GuildState, used: InviteState | None) -> None:
        if used is not None and guild.invites.pop(used.code, None) is not None:
            await self._invite_event(guild, "INVITE_DELETE", {"code": used.code, "guild_id": str(guild.guild_id),
                                                              "channel_id": str(guild.channel_id)})

    def set_vanity_url(self, guild_id: int, code: str | None) -> None:
        """The guild gets (or loses) the VANITY_URL feature with `code` (seen in the next GUILD_CREATE)."""
        self.ensure_guild(guild_id).vanity_code = code

    async def member_leave(self, guild_id: int, user_id: int) -> None:
        guild = self._guild_with_bot(guild_id)
        member = guild.members.pop(user_id, None)
        if member is None:
            raise DoubleError(f"user {user_id} is not a member of guild {guild_id}")
        guild.left.add(user_id)
        guild.joined.discard(user_id)
        await self.gateway.broadcast("GUILD_MEMBER_REMOVE", {"guild_id": str(guild_id),
                                                             "user": member.user_payload()},
                                     intent=GUILD_MEMBERS)

    async def say(self, guild_id: int, user_id: int, text: str) -> None:
        """A member posts in the guild's channel: MESSAGE_CREATE (content only with MESSAGE_CONTENT)."""
        guild = self._guild_with_bot(guild_id)
        member = self.ensure_member(guild_id, user_id)
        message = p.message(p.new_snowflake(), guild.channel_id, member.user_payload(), {"content": text},
                            guild_id=guild_id, application_id=self.app_id, webhook=False)
        message["member"] = {k: v for k, v in guild.member_payload(user_id).items() if k != "user"}
        for session in list(self.gateway.resumable.values()):
            if session.intents & GUILD_MESSAGES and session.serves(guild_id):
                body = message if session.intents & MESSAGE_CONTENT else {**message, "content": ""}
                await session.dispatch("MESSAGE_CREATE", body)

    def _guild_with_bot(self, guild_id: int) -> GuildState:
        guild = self.guilds.get(guild_id)
        if guild is None or not guild.bot_present:
            raise DoubleError(f"the bot is not in guild {guild_id}")
        return guild

    # -- replies -----------------------------------------------------------
    def fill_reply(self, reply: Reply, data: dict[str, Any], files: list[Attachment],
                   record: InteractionRecord, *, edit: bool = False) -> None:
        """Apply what the bot sent (content, embeds, components, attachments) to a reply."""
        if "content" in data or not edit:
            reply.content = data.get("content") or ""
        if "embeds" in data or not edit:
            reply.embeds = list(data.get("embeds") or [])
        if "components" in data or not edit:
            reply.components = p.with_component_ids(list(data.get("components") or []))
        if files or "attachments" in data:
            kept = {str(a.get("id")) for a in data.get("attachments", [])}
            reply.attachments = [a for i, a in enumerate(reply.attachments) if str(i) in kept and edit] + files
        guild = self.guilds.get(record.guild_id or 0)
        channel_id = guild.channel_id if guild else record.user_id
        attachments = [{"id": str(i), "filename": a.filename, "size": a.size, "content_type": None,
                        "url": f"http://127.0.0.1:{self.port}/attachments/{reply.message_id}/{a.filename}",
                        "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{reply.message_id}/{a.filename}"}
                       for i, a in enumerate(reply.attachments)]
        body = {"content": reply.content, "embeds": reply.embeds, "components": reply.components,
                "attachments": attachments, "flags": 64 if reply.ephemeral else 0}
        reply.payload = p.message(reply.message_id, channel_id, self.bot_user, body, guild_id=record.guild_id,
                                  application_id=self.app_id, interaction_id=record.interaction_id or None,
                                  webhook=reply.channel_id is None)
        self.messages[reply.message_id] = reply
