"""/help through the bot: grouped, one line each, admin commands only for admins."""
from __future__ import annotations

import pytest

from app.doubles import Reply
from app.sandbox.harness import BotHarness
from tests.e2e import ADMIN, GUILD_A, MEMBER


def _sections(reply: Reply) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field in reply.embeds[0]["fields"]:
        out.setdefault(field["name"], []).extend(field["value"].split("\n"))
    return out


@pytest.mark.asyncio
async def test_a_member_sees_member_commands_only(harness: BotHarness) -> None:
    reply = await harness.command(GUILD_A, MEMBER, "help")
    assert reply.ephemeral
    sections = _sections(reply)
    every = [line for lines in sections.values() for line in lines]
    assert "Server admin" not in sections
    assert not any(line.startswith(("`/server info`", "`/settings`", "`/server-data")) for line in every)
    assert "`/help` — The commands you can use here, one line each" in sections["General"]
    assert any(line.startswith("`/leaderboard` — ") for line in sections["Community"])
    assert any(line.startswith("`/my-data export` — ") for line in sections["Your data"])
    assert any(line.startswith("`/manga update` — ") for line in sections["Reading"])
    assert any(line.startswith("`/steam link` — ") for line in sections["Steam"])
    assert "More" not in sections  # every member command has a section
    assert all(line.startswith("`/") and " — " in line for line in every)


@pytest.mark.asyncio
async def test_an_admin_also_sees_the_admin_commands(harness: BotHarness) -> None:
    member = _sections(await harness.command(GUILD_A, MEMBER, "help"))
    admin = _sections(await harness.command(GUILD_A, ADMIN, "help", admin=True))
    admin_lines = admin["Server admin"]
    assert any(line.startswith("`/server info` — ") for line in admin_lines)
    assert any(line.startswith("`/server-data delete` — ") for line in admin_lines)
    assert any(line.startswith("`/invites-admin bonus` — ") for line in admin_lines)
    assert "`/settings` — Announcements and XP in this server" in admin_lines
    assert {k: v for k, v in admin.items() if k != "Server admin"} == member
