"""`/settings` (admin): announcement channel, level-up announcements, XP per message and its cooldown.

Stored in this server's `guild_settings`; with no option it shows what is in force. The XP listener
reads the new values with the next message (its cached copy is dropped here).
"""
from __future__ import annotations

from typing import Any

import hikari
import lightbulb

from app.bot.checks import ADMIN_DEFAULT, GUILD_CONTEXT, admin_only
from app.config import Settings
from app.db import GuildDb
from app.errors import InvalidInputError
from app.extensions.xp import XpService
from app.features import guild_settings as gs

loader = lightbulb.Loader()
TEXT_CHANNELS = [hikari.ChannelType.GUILD_TEXT, hikari.ChannelType.GUILD_NEWS]


def settings_embed(current: gs.GuildSettings, default_cooldown: int, *, changed: bool) -> hikari.Embed:
    channel = f"<#{current.announce_channel_id}>" if current.announce_channel_id else "none (level-ups go where " \
                                                                                      "the member wrote)"
    cooldown = current.cooldown(default_cooldown)
    embed = hikari.Embed(title="Settings saved" if changed else "This server's settings")
    embed.add_field("Announcement channel", channel)
    embed.add_field("Level-up announcements", "on" if current.levelup_announcements else "off", inline=True)
    embed.add_field("XP per message", str(current.xp_amount), inline=True)
    embed.add_field("XP cooldown", f"{cooldown} s" + ("" if current.xp_cooldown_seconds is not None
                                                      else " (the bot's default)"), inline=True)
    return embed


@loader.command
class SettingsCommand(lightbulb.SlashCommand, name="settings", description="Announcements and XP in this server",
                      contexts=GUILD_CONTEXT, default_member_permissions=ADMIN_DEFAULT, hooks=[admin_only]):
    announce_channel = lightbulb.channel("announce_channel", "Where level-ups and achievements are announced",
                                         channel_types=TEXT_CHANNELS, default=None)
    clear_channel = lightbulb.boolean("clear_channel", "Stop using an announcement channel", default=False)
    levelup = lightbulb.boolean("levelup_announcements", "Announce level-ups", default=None)
    xp_amount = lightbulb.integer("xp_amount", "XP a message earns", min_value=gs.XP_AMOUNT_RANGE[0],
                                  max_value=gs.XP_AMOUNT_RANGE[1], default=None)
    xp_cooldown = lightbulb.integer("xp_cooldown", "Seconds before a member's next message earns XP",
                                    min_value=gs.XP_COOLDOWN_RANGE[0], max_value=gs.XP_COOLDOWN_RANGE[1],
                                    default=None)

    def changes(self) -> dict[str, Any]:
        """The options given, as settings keys (validated again by update_guild_settings)."""
        if self.clear_channel and self.announce_channel is not None:
            raise InvalidInputError("Choose a channel or clear it, not both.")
        changes: dict[str, Any] = {gs.LEVELUP: self.levelup, gs.XP_AMOUNT: self.xp_amount,
                                   gs.XP_COOLDOWN: self.xp_cooldown}
        changes = {key: value for key, value in changes.items() if value is not None}
        if self.announce_channel is not None:
            if self.announce_channel.type not in TEXT_CHANNELS:
                raise InvalidInputError("Announcements need a text channel.")
            changes[gs.ANNOUNCE_CHANNEL] = int(self.announce_channel.id)
        if self.clear_channel:
            changes[gs.ANNOUNCE_CHANNEL] = None
        return changes

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, db: GuildDb, xp: XpService, settings: Settings) -> None:
        """Show the settings, or change those given and show the result."""
        changes = self.changes()
        if changes:
            current = await gs.update_guild_settings(db, changes, user_id=int(ctx.user.id))
            xp.settings_changed(db.guild_id, current)
        else:
            current = await gs.fetch_guild_settings(db)
        await ctx.respond(embed=settings_embed(current, settings.xp_cooldown_seconds, changed=bool(changes)),
                          ephemeral=True)
