"""Permissions as Discord computes them: @everyone, the member's roles, the owner, ADMINISTRATOR, overwrites.

Discord's algorithm (developers/topics/permissions.mdx, "Permission Hierarchy"):
base = @everyone | every role of the member; the owner and ADMINISTRATOR get everything;
then the channel's overwrites apply in order: @everyone, the member's roles together, the member.
"""
from __future__ import annotations

from dataclasses import dataclass

CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_AUDIT_LOG = 1 << 7
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
ALL = 0x1E7F_FFFF_FFFF_FF  # every bit hikari 2.6 knows (Permissions.all_permissions())

# What @everyone may do in a new server (view, send, embed, history, reactions, commands...).
EVERYONE = (CREATE_INSTANT_INVITE | ADD_REACTIONS | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES
            | READ_MESSAGE_HISTORY | USE_EXTERNAL_EMOJIS | USE_APPLICATION_COMMANDS)
# The README's invite link: post replies and files, and the invite tracker's Manage Server + Manage Channels.
BOT_INVITE = (VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | MANAGE_GUILD
              | MANAGE_CHANNELS)
# In a DM the app may view, send, embed and attach (Discord sends these bits there).
DM_APP_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY

NAMES = {"administrator": ADMINISTRATOR, "manage_channels": MANAGE_CHANNELS, "manage_guild": MANAGE_GUILD,
         "manage_server": MANAGE_GUILD, "view_audit_log": VIEW_AUDIT_LOG, "view_channel": VIEW_CHANNEL,
         "send_messages": SEND_MESSAGES, "embed_links": EMBED_LINKS, "attach_files": ATTACH_FILES,
         "read_message_history": READ_MESSAGE_HISTORY, "manage_roles": MANAGE_ROLES,
         "create_instant_invite": CREATE_INSTANT_INVITE, "mention_everyone": MENTION_EVERYONE}

ROLE_OVERWRITE, MEMBER_OVERWRITE = 0, 1


@dataclass
class Overwrite:
    """A channel permission overwrite for a role (kind 0, @everyone's id is the guild's) or a member (kind 1)."""

    target_id: int
    kind: int
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, object]:
        return {"id": str(self.target_id), "type": self.kind, "allow": str(self.allow), "deny": str(self.deny)}


def parse_permission(name: str) -> int:
    """`manage_guild`, `MANAGE_SERVER`, `administrator`... → its bit.

    Raises:
        ValueError: no such permission (the message lists the known names).
    """
    bit = NAMES.get(name.strip().lower().replace("-", "_"))
    if bit is None:
        raise ValueError(f"unknown permission {name!r} (known: {', '.join(sorted(NAMES))})")
    return bit


def base_permissions(*, everyone: int, role_permissions: list[int], is_owner: bool) -> int:
    """Guild-level permissions of a member: the owner and ADMINISTRATOR get every permission."""
    if is_owner:
        return ALL
    total = everyone
    for bits in role_permissions:
        total |= bits
    return ALL if total & ADMINISTRATOR else total


def channel_permissions(base: int, *, guild_id: int, user_id: int, role_ids: set[int],
                        overwrites: list[Overwrite]) -> int:
    """The member's permissions in one channel: @everyone's overwrite, then their roles', then their own."""
    if base & ADMINISTRATOR:
        return ALL
    total = base
    for ow in overwrites:
        if ow.kind == ROLE_OVERWRITE and ow.target_id == guild_id:
            total = (total & ~ow.deny) | ow.allow
    allow = deny = 0
    for ow in overwrites:
        if ow.kind == ROLE_OVERWRITE and ow.target_id in role_ids and ow.target_id != guild_id:
            allow, deny = allow | ow.allow, deny | ow.deny
    total = (total & ~deny) | allow
    for ow in overwrites:
        if ow.kind == MEMBER_OVERWRITE and ow.target_id == user_id:
            total = (total & ~ow.deny) | ow.allow
    return total
