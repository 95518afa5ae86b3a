"""What the Discord double remembers: guilds, members, commands, interactions and the replies to them."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from app.doubles import discord_payloads as p
from app.doubles import discord_permissions as perm

EPHEMERAL = 1 << 6
DEFERRED_MESSAGE = 5  # the interaction callback type of a public or private "thinking…"


class DoubleError(ValueError):
    """The double was asked for something Discord would not do (unknown command, guild, member)."""


class DoubleClock:
    """Discord's time as the double sees it: the real clock plus what a test or the sandbox advanced."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Attachment:
    """A file the bot sent with a reply."""

    filename: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Reply:
    """One message the bot sent in answer to an interaction (the original or a follow-up), or a modal."""

    message_id: int
    kind: str  # "message", "deferred" (loading, not yet edited), "modal" or "deleted"
    ephemeral: bool = False
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # the message object as the double serves it
    channel_id: int | None = None  # a message the bot posted in a channel (not an interaction reply)

    def buttons(self) -> list[dict[str, Any]]:
        """Every button of the reply's action rows (label, custom_id, style, disabled)."""
        return [c for row in self.components for c in row.get("components", []) if c.get("type") == 2]

    def selects(self) -> list[dict[str, Any]]:
        """Every select menu of the reply's action rows (custom_id, placeholder, options)."""
        return [c for row in self.components for c in row.get("components", []) if c.get("type") in (3, 5, 6, 7, 8)]


@dataclass
class InteractionRecord:
    """An interaction the double sent and everything the bot answered to it."""

    interaction_id: int
    token: str
    guild_id: int | None
    user_id: int
    kind: int
    replies: list[Reply] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    response_type: int | None = None
    source_message_id: int | None = None  # for a button press: the message the button was on
    created_at: float = 0.0  # on the double's clock: 3 s to answer, 15 min of token
    attachment_size_limit: int = p.DEFAULT_ATTACHMENT_LIMIT
    choices: list[dict[str, Any]] | None = None  # an autocomplete's answer
    source_edited: bool = False  # after a deferred update (6): the bot edited the message

    def touch(self) -> None:
        self.changed.set()

    @property
    def original(self) -> Reply | None:
        return self.replies[0] if self.replies else None


@dataclass
class MemberState:
    user_id: int
    name: str
    joined_at: str
    role_ids: set[int] = field(default_factory=set)
    bot: bool = False

    def user_payload(self) -> dict[str, Any]:
        return p.user(self.user_id, self.name, bot=self.bot)


@dataclass
class InviteState:
    code: str
    inviter_id: int
    max_uses: int = 0
    uses: int = 0
    created_at: str = field(default_factory=p.iso_now)


@dataclass
class RoleState:
    role_id: int
    name: str
    permissions: int
    position: int
    managed: bool = False

    def payload(self) -> dict[str, Any]:
        return {**p.role(self.role_id, self.name, self.permissions, self.position), "managed": self.managed}


@dataclass
class GuildState:
    guild_id: int
    name: str
    owner_id: int
    channel_id: int
    admin_role_id: int
    bot_role_id: int
    bot_id: int = 0
    bot_present: bool = False
    unavailable: bool = False  # an outage: in READY, but no GUILD_CREATE until it recovers
    joined_at: str = field(default_factory=p.iso_now)
    members: dict[int, MemberState] = field(default_factory=dict)
    left: set[int] = field(default_factory=set)  # users who left: Discord sends nothing of theirs until they rejoin
    joined: set[int] = field(default_factory=set)  # members who arrived by a join (a second one needs a leave first)
    invites: dict[str, InviteState] = field(default_factory=dict)
    roles: dict[int, RoleState] = field(default_factory=dict)
    overwrites: list[perm.Overwrite] = field(default_factory=list)  # of the guild's one text channel
    vanity_code: str | None = None  # the VANITY_URL feature with this code (`set_vanity_url`)
    vanity_uses: int = 0

    def __post_init__(self) -> None:
        if not self.roles:
            self.roles = {r.role_id: r for r in (
                RoleState(self.guild_id, "@everyone", perm.EVERYONE, 0),
                RoleState(self.admin_role_id, "Admins", perm.EVERYONE | perm.MANAGE_GUILD | perm.ADMINISTRATOR, 1),
                RoleState(self.bot_role_id, "guildshelf", perm.BOT_INVITE, 2, managed=True))}

    def permissions_of(self, user_id: int, *, extra_roles: set[int] | None = None) -> int:
        """The member's permissions in the guild's channel, as Discord computes them."""
        member = self.members.get(user_id)
        role_ids = (member.role_ids if member else set()) | (extra_roles or set())
        base = perm.base_permissions(
            everyone=self.roles[self.guild_id].permissions, is_owner=user_id == self.owner_id,
            role_permissions=[self.roles[r].permissions for r in role_ids if r in self.roles])
        return perm.channel_permissions(base, guild_id=self.guild_id, user_id=user_id, role_ids=role_ids,
                                        overwrites=self.overwrites)

    def member_payload(self, user_id: int, *, with_permissions: bool = False,
                       extra_roles: set[int] | None = None) -> dict[str, Any]:
        m = self.members[user_id]
        roles = sorted(m.role_ids | (extra_roles or set()))
        perms = self.permissions_of(user_id, extra_roles=extra_roles) if with_permissions else None
        return p.member(m.user_payload(), roles=roles, joined_at=m.joined_at, permissions=perms)

    def member_chunks(self, *, user_ids: list[int] | None, query: str, limit: int, nonce: str | None,
                      size: int = 1000) -> list[dict[str, Any]]:
        """GUILD_MEMBERS_CHUNK payloads answering a Request Guild Members (op 8)."""
        if user_ids is not None:
            found = [u for u in user_ids if u in self.members]
            not_found = [str(u) for u in user_ids if u not in self.members]
        else:
            found = [u for u, m in self.members.items() if m.name.lower().startswith(query.lower())]
            found = found[:limit] if limit else found
            not_found = []
        pages = [found[i:i + size] for i in range(0, len(found), size)] or [[]]
        chunks = [{"guild_id": str(self.guild_id), "members": [self.member_payload(u) for u in page],
                   "chunk_index": index, "chunk_count": len(pages)} for index, page in enumerate(pages)]
        chunks[0]["not_found"] = not_found
        for chunk in chunks:
            if nonce is not None:
                chunk["nonce"] = nonce
        return chunks

    def invite_payload(self, invite: InviteState, *, event: bool = False) -> dict[str, Any]:
        """INVITE_CREATE's `d` (event) or an invite with metadata as GET /guilds/{id}/invites lists it."""
        # the inviter stays on the invite after leaving the server, as on Discord
        inviter = (self.members[invite.inviter_id].user_payload() if invite.inviter_id in self.members
                   else p.user(invite.inviter_id, f"user{str(invite.inviter_id)[-4:]}"))
        body: dict[str, Any] = {"code": invite.code, "inviter": inviter, "uses": invite.uses,
                                "max_uses": invite.max_uses, "max_age": 0, "temporary": False,
                                "created_at": invite.created_at, "expires_at": None}
        if event:
            return {**body, "guild_id": str(self.guild_id), "channel_id": str(self.channel_id)}
        guild: dict[str, Any] = {"id": str(self.guild_id), "name": self.name, "splash": None, "banner": None,
                                 "description": None, "icon": None, "features": self.features(),
                                 "verification_level": 0, "vanity_url_code": self.vanity_code,
                                 "nsfw_level": 0, "premium_subscription_count": 0}
        channel = {"id": str(self.channel_id), "type": 0, "name": "general"}
        return {**body, "type": 0, "flags": 0, "guild": guild, "channel": channel}

    def features(self) -> list[str]:
        return ["VANITY_URL"] if self.vanity_code else []

    def channel_payload(self) -> dict[str, Any]:
        channel = p.text_channel(self.channel_id, self.guild_id, "general")
        channel["permission_overwrites"] = [ow.payload() for ow in self.overwrites]
        return channel

    def create_payload(self, *, at_startup: bool = False) -> dict[str, Any]:
        """GUILD_CREATE: at startup (a guild of READY) it says `unavailable: false`; a new join omits it."""
        roles = [r.payload() for r in self.roles.values()]
        # without the GUILD_PRESENCES intent Discord sends the bot's own member only (and voice members):
        # the rest arrive by member chunking (op 8) or events
        members = [self.member_payload(uid) for uid, m in self.members.items() if m.bot and m.user_id == self.bot_id]
        payload = p.guild(self.guild_id, self.name, owner_id=self.owner_id, roles=roles,
                          channels=[self.channel_payload()], members=members, joined_at=self.joined_at)
        payload["member_count"] = len(self.members)
        payload["features"], payload["vanity_url_code"] = self.features(), self.vanity_code
        if at_startup:
            payload["unavailable"] = False
        return payload
