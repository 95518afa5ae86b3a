"""The double's bot-authenticated REST routes: startup, command sync, guilds, members, channel messages.

Permissions are checked as Discord does: `GET /guilds/{id}/invites` needs Manage Server,
posting in a channel needs View Channel (else 50001) and Send Messages (+ Embed Links for embeds,
Attach Files for files; else 50013).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from app.doubles import discord_limits as limits
from app.doubles import discord_payloads as p
from app.doubles import discord_permissions as perm
from app.doubles.discord_commands import check_commands
from app.doubles.discord_errors import (
    INVALID_INVITE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    RestError,
)
from app.doubles.discord_rest_interactions import InteractionRoutes, read_body
from app.doubles.discord_state import GuildState, InteractionRecord, Reply

if TYPE_CHECKING:
    from app.doubles.discord import DiscordDouble

API = "/api/v10"
CHANNEL_ATTACHMENT_LIMIT = p.DEFAULT_ATTACHMENT_LIMIT


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
        r.add_get(f"{API}/guilds/{{guild}}", self.get_guild)
        r.add_get(f"{API}/guilds/{{guild}}/channels", self.guild_channels)
        r.add_get(f"{API}/guilds/{{guild}}/members/{{user}}", self.guild_member)
        r.add_get(f"{API}/guilds/{{guild}}/invites", self.guild_invites)
        r.add_get(f"{API}/guilds/{{guild}}/vanity-url", self.vanity_url)
        r.add_post(f"{API}/channels/{{channel}}/messages", self.create_message)
        r.add_get(f"{API}/channels/{{channel}}/messages/{{message}}", self.get_message)
        r.add_patch(f"{API}/channels/{{channel}}/messages/{{message}}", self.edit_message)
        r.add_delete(f"{API}/channels/{{channel}}/messages/{{message}}", self.delete_message)
        InteractionRoutes(self.d).install(app, API)

    # -- startup ---------------------------------------------------------
    async def gateway_bot(self, request: web.Request) -> web.Response:
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
        """A bulk overwrite: all valid, or 50035 and nothing stored."""
        scope = int(request.match_info.get("guild", 0))
        commands = await request.json()
        check_commands(commands)
        stored = [{**command, "id": str(p.new_snowflake()), "application_id": str(self.d.app_id),
                   "version": str(p.new_snowflake()), "guild_id": str(scope) if scope else None,
                   "default_member_permissions": command.get("default_member_permissions"),
                   "type": command.get("type", 1), "options": command.get("options", [])}
                  for command in commands]
        self.d.commands[scope] = stored
        self.d.command_syncs += 1
        return web.json_response(stored)

    # -- guilds ----------------------------------------------------------
    def _guild(self, request: web.Request) -> GuildState:
        """Raises:
            RestError: 404 10004 for a guild the bot is not in.
        """
        guild = self.d.guilds.get(int(request.match_info["guild"]))
        if guild is None or not guild.bot_present:
            raise RestError(404, UNKNOWN_GUILD, "Unknown Guild")
        return guild

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        payload = guild.create_payload()
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at", "large",
                    "member_count", "stage_instances", "guild_scheduled_events", "soundboard_sounds"):
            payload.pop(key, None)
        if request.query.get("with_counts") == "true":
            payload["approximate_member_count"] = len(guild.members)
            payload["approximate_presence_count"] = 0  # no presences in the double
        return web.json_response(payload)

    async def guild_channels(self, request: web.Request) -> web.Response:
        return web.json_response([self._guild(request).channel_payload()])

    async def guild_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        user_id = int(request.match_info["user"])
        if user_id not in guild.members:
            raise RestError(404, UNKNOWN_MEMBER, "Unknown Member")
        return web.json_response(guild.member_payload(user_id))

    async def guild_invites(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if not guild.permissions_of(self.d.app_id) & perm.MANAGE_GUILD:
            raise RestError(403, MISSING_PERMISSIONS, "Missing Permissions")
        if self.d.invite_list_gate is not None:  # a test holds the answer (a slow Discord)
            await self.d.invite_list_gate.wait()
        return web.json_response([guild.invite_payload(i) for i in guild.invites.values()])

    async def vanity_url(self, request: web.Request) -> web.Response:
        """Manage Server; a guild without the feature: 50020 (as reported in 2020, status 400)."""
        guild = self._guild(request)
        if not guild.permissions_of(self.d.app_id) & perm.MANAGE_GUILD:
            raise RestError(403, MISSING_PERMISSIONS, "Missing Permissions")
        if not guild.vanity_code:
            raise RestError(400, INVALID_INVITE, "Invite code is either invalid or taken.")
        return web.json_response({"code": guild.vanity_code, "uses": guild.vanity_uses})

    # -- channel messages ------------------------------------------------
    def _channel_guild(self, request: web.Request) -> GuildState:
        """The guild of the channel, once the bot may see it.

        Raises:
            RestError: 404 10003 for an unknown channel, 403 50001 without View Channel.
        """
        channel_id = int(request.match_info["channel"])
        guild = next((g for g in self.d.guilds.values() if g.channel_id == channel_id and g.bot_present), None)
        if guild is None:
            raise RestError(404, UNKNOWN_CHANNEL, "Unknown Channel")
        if not guild.permissions_of(self.d.app_id) & perm.VIEW_CHANNEL:
            raise RestError(403, MISSING_ACCESS, "Missing Access")
        return guild

    def _channel_message(self, request: web.Request) -> tuple[GuildState, Reply]:
        guild = self._channel_guild(request)
        message = self.d.messages.get(int(request.match_info["message"]))
        if message is None or message.kind == "deleted" or message.payload.get("channel_id") != str(guild.channel_id):
            raise RestError(404, UNKNOWN_MESSAGE, "Unknown Message")
        return guild, message

    @staticmethod
    def _check_send(guild: GuildState, bot_id: int, body: dict[str, Any], files: int) -> None:
        bits = guild.permissions_of(bot_id)
        needed = perm.SEND_MESSAGES | (perm.EMBED_LINKS if body.get("embeds") else 0) | (
            perm.ATTACH_FILES if files else 0)
        if bits & needed != needed:
            raise RestError(403, MISSING_PERMISSIONS, "Missing Permissions")

    async def create_message(self, request: web.Request) -> web.Response:
        guild = self._channel_guild(request)
        body, files = await read_body(request)
        self._check_send(guild, self.d.app_id, body, len(files))
        limits.check_message(body, files=len(files))
        limits.check_files([f.size for f in files], CHANNEL_ATTACHMENT_LIMIT)
        reply = Reply(p.new_snowflake(), "message", channel_id=guild.channel_id)
        self.d.fill_reply(reply, body, files, self._channel_record(guild))
        self.d.channel_posts.append(reply)
        return web.json_response(reply.payload)

    def _channel_record(self, guild: GuildState) -> InteractionRecord:
        return InteractionRecord(0, "", guild.guild_id, self.d.app_id, 0)

    async def get_message(self, request: web.Request) -> web.Response:
        _, message = self._channel_message(request)
        return web.json_response(message.payload)

    async def edit_message(self, request: web.Request) -> web.Response:
        guild, message = self._channel_message(request)
        body, files = await read_body(request)
        limits.check_message(body, files=len(files), edit=True)
        self.d.fill_reply(message, body, files, self._channel_record(guild), edit=True)
        return web.json_response(message.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        _, message = self._channel_message(request)
        message.kind = "deleted"
        return web.Response(status=204)
