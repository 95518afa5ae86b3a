"""Run-time checks every command goes through: guild only, and admin where the command says so."""
from __future__ import annotations

import hikari
import lightbulb

from app.bot.di import GUILD_ONLY_MESSAGE
from app.errors import PermissionDeniedError, UserFacingError

ADMIN_PERMISSIONS = hikari.Permissions.MANAGE_GUILD
# Admin commands declare this so Discord hides them from members who cannot use them.
ADMIN_DEFAULT = ADMIN_PERMISSIONS
GUILD_CONTEXT = [hikari.ApplicationContextType.GUILD]


@lightbulb.hook(lightbulb.ExecutionSteps.CHECKS, name="guild_only")
def guild_only(_: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
    """Every command: Discord may still deliver one from a DM (old clients, a changed context list)."""
    if ctx.guild_id is None or ctx.member is None:
        raise UserFacingError(GUILD_ONLY_MESSAGE)


def is_admin(member: hikari.InteractionMember) -> bool:
    perms = member.permissions
    return bool(perms & hikari.Permissions.ADMINISTRATOR) or (perms & ADMIN_PERMISSIONS) == ADMIN_PERMISSIONS


@lightbulb.hook(lightbulb.ExecutionSteps.CHECKS, skip_when_failed=True, name="admin_only")
def admin_only(_: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
    """Admin commands: default_member_permissions can be changed by a server; check again here."""
    if ctx.member is None or not is_admin(ctx.member):
        raise PermissionDeniedError(
            f"Only members with the Manage Server permission can use /{ctx.command_data.qualified_name}.")
