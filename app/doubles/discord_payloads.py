"""JSON payloads in the shapes Discord sends (users, members, guilds, messages, interactions).

Only the keys hikari 2.6 reads are filled in; every value is a plain JSON type.
"""
from __future__ import annotations

import base64
import itertools
import time
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024  # a server without boosts

_counter = itertools.count(1)


def new_snowflake() -> int:
    """A fresh, time-ordered Discord id."""
    millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (millis << 22) | (next(_counter) & 0x3F_FFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def make_token(app_id: int) -> str:
    """A bot token whose first segment is base64 of the application id, as hikari reads it."""
    first = base64.b64encode(str(app_id).encode()).decode().rstrip("=")
    return f"{first}.double.token"


def user(user_id: int, name: str, *, bot: bool = False) -> JSON:
    return {"id": str(user_id), "username": name, "global_name": name.title(), "discriminator": "0",
            "avatar": None, "bot": bot, "system": False, "public_flags": 0, "flags": 0, "banner": None,
            "accent_color": None, "avatar_decoration_data": None, "mfa_enabled": False,
            "locale": "en-US", "verified": True, "email": None, "premium_type": 0}


def member(user_payload: JSON, *, roles: list[int], joined_at: str, permissions: int | None = None,
           guild_id: int | None = None) -> JSON:
    payload: JSON = {"user": user_payload, "nick": None, "avatar": None, "banner": None,
                     "roles": [str(r) for r in roles], "joined_at": joined_at, "premium_since": None,
                     "deaf": False, "mute": False, "flags": 0, "pending": False,
                     "communication_disabled_until": None}
    if permissions is not None:
        payload["permissions"] = str(permissions)
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    return payload


def role(role_id: int, name: str, permissions: int, position: int) -> JSON:
    return {"id": str(role_id), "name": name, "color": 0, "colors": {"primary_color": 0},
            "hoist": False, "icon": None, "unicode_emoji": None, "position": position,
            "permissions": str(permissions), "managed": False, "mentionable": False, "flags": 0}


def text_channel(channel_id: int, guild_id: int, name: str) -> JSON:
    return {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": name, "position": 0,
            "permission_overwrites": [], "topic": None, "nsfw": False, "last_message_id": None,
            "rate_limit_per_user": 0, "parent_id": None, "last_pin_timestamp": None, "flags": 0}


def guild(guild_id: int, name: str, *, owner_id: int, roles: list[JSON], channels: list[JSON],
          members: list[JSON], joined_at: str) -> JSON:
    """A GUILD_CREATE payload (the gateway's full guild object)."""
    return {
        "id": str(guild_id), "name": name, "icon": None, "splash": None, "discovery_splash": None,
        "owner_id": str(owner_id), "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
        "default_message_notifications": 0, "explicit_content_filter": 0, "roles": roles, "emojis": [],
        "stickers": [], "features": [], "mfa_level": 0, "application_id": None,
        "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
        "max_presences": None, "max_members": 500000, "vanity_url_code": None, "description": None,
        "banner": None, "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
        "public_updates_channel_id": None, "max_video_channel_users": 25, "nsfw_level": 0,
        "premium_progress_bar_enabled": False, "safety_alerts_channel_id": None, "widget_enabled": False,
        "widget_channel_id": None, "nsfw": False, "incidents_data": None,
        "joined_at": joined_at, "large": False, "member_count": len(members),
        "members": members, "channels": channels, "threads": [], "presences": [], "voice_states": [],
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
    }


def with_component_ids(components: list[JSON]) -> list[JSON]:
    """Copies of the components with Discord's numeric `id` on each (hikari reads it), in document order."""
    counter = itertools.count(1)

    def number(component: JSON) -> JSON:
        out = {**component, "id": component.get("id") or next(counter)}
        if "components" in component:
            out["components"] = [number(c) for c in component["components"]]
        return out

    return [number(c) for c in components]


def message(message_id: int, channel_id: int, author: JSON, data: JSON, *, guild_id: int | None,
            application_id: int, interaction_id: int | None = None, webhook: bool = True) -> JSON:
    """A message object built from what the bot sent (content, embeds, components, attachments)."""
    payload: JSON = {
        "id": str(message_id), "channel_id": str(channel_id), "author": author,
        "content": data.get("content") or "", "timestamp": iso_now(), "edited_timestamp": None,
        "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
        "mention_channels": [], "attachments": data.get("attachments", []), "embeds": data.get("embeds", []),
        "reactions": [], "pinned": False, "type": 20 if interaction_id else 0,
        "flags": int(data.get("flags") or 0), "components": data.get("components", []),
        "application_id": str(application_id), "sticker_items": [],
    }
    if webhook:
        payload["webhook_id"] = str(application_id)
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    return payload


def application(app_id: int, owner: JSON, guild_count: int) -> JSON:
    """GET /oauth2/applications/@me."""
    return {
        "id": str(app_id), "name": "guildshelf (double)", "icon": None, "description": "local double",
        "summary": "", "type": None, "bot_public": True, "bot_require_code_grant": False,
        "verify_key": "00" * 32, "flags": 0, "owner": owner, "team": None, "rpc_origins": [],
        "terms_of_service_url": None, "privacy_policy_url": None, "role_connections_verification_url": None,
        "custom_install_url": None, "tags": [], "install_params": None, "cover_image": None,
        "approximate_guild_count": guild_count, "approximate_user_install_count": 0,
        "integration_types_config": {"0": {}}, "interactions_endpoint_url": None,
        "redirect_uris": [],
    }


def interaction(*, interaction_id: int, app_id: int, kind: int, token: str, guild_id: int | None,
                channel: JSON, data: JSON, member_payload: JSON | None, user_payload: JSON,
                app_permissions: int, message_payload: JSON | None = None,
                attachment_size_limit: int = DEFAULT_ATTACHMENT_LIMIT) -> JSON:
    """An INTERACTION_CREATE payload; in a guild it carries `member`, in a DM `user`."""
    payload: JSON = {
        "id": str(interaction_id), "application_id": str(app_id), "type": kind, "token": token,
        "version": 1, "locale": "en-US", "guild_locale": "en-US", "channel": channel,
        "channel_id": channel["id"], "app_permissions": str(app_permissions),
        "authorizing_integration_owners": {"0": channel.get("guild_id", "0")},
        "context": 0 if guild_id is not None else 1, "attachment_size_limit": attachment_size_limit,
        "entitlements": [], "data": data,
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
        payload["member"] = member_payload
    else:
        payload["user"] = user_payload
        payload["authorizing_integration_owners"] = {"1": user_payload["id"]}
    if message_payload is not None:
        payload["message"] = message_payload
    return payload
