"""Rules the whole code base keeps: described commands, guild-only + admin checks, layering."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

import hikari
import lightbulb
import pytest

from app.bot.checks import admin_only
from app.cli import build_parser
from app.sandbox.harness import BotHarness

APP = Path(__file__).resolve().parents[2] / "app"


def _walk_options(options: list[dict[str, Any]], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for option in options:
        found.append((f"{path} {option['name']}", option))
        found.extend(_walk_options(option.get("options") or [], f"{path} {option['name']}"))
    return found


@pytest.mark.asyncio
async def test_every_synced_slash_command_option_and_subcommand_has_a_description(harness: BotHarness) -> None:
    commands = [c for scope in harness.double.commands.values() for c in scope]
    assert commands
    missing = [c["name"] for c in commands if not c.get("description", "").strip()]
    for command in commands:
        missing += [p for p, o in _walk_options(command.get("options") or [], command["name"])
                    if not o.get("description", "").strip()]
    assert missing == []


def _leaf_commands(item: Any) -> list[Any]:
    if isinstance(item, lightbulb.Group | lightbulb.SubGroup):
        return [leaf for sub in item.subcommands.values() for leaf in _leaf_commands(sub)]
    return [item]


@pytest.mark.asyncio
async def test_every_command_is_guild_only_and_admin_ones_are_checked_twice(harness: BotHarness) -> None:
    problems = []
    for root in harness.bot.client.registered_commands:
        data = root._command_data if not isinstance(root, lightbulb.Group) else root
        if list(data.contexts or ()) != [hikari.ApplicationContextType.GUILD]:
            problems.append(f"{data.name}: contexts must be [GUILD]")
        declared_admin = data.default_member_permissions == hikari.Permissions.MANAGE_GUILD
        for leaf in _leaf_commands(root):
            checked = admin_only in leaf._command_data.hooks
            if checked != declared_admin:
                problems.append(f"{leaf._command_data.qualified_name}: run-time admin check {checked}, "
                                f"default_member_permissions MANAGE_GUILD {declared_admin}")
    assert problems == []


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction[Any]]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def test_every_cli_command_and_argument_has_help() -> None:
    missing = []
    pending = [("python -m app", build_parser())]
    while pending:
        name, parser = pending.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for sub_name, sub in action.choices.items():
                    if not helps.get(sub_name):
                        missing.append(f"{name} {sub_name}")
                    pending.append((f"{name} {sub_name}", sub))
            elif not action.help and action.dest != "help":
                missing.append(f"{name} {action.dest}")
    assert missing == []


@pytest.mark.parametrize("area", ["db", "legacy", "rights"])
def test_storage_layers_never_import_discord_libraries(area: str) -> None:
    offenders = []
    for path in sorted((APP / area).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(APP)}: {n}" for n in names
                          if n.split(".")[0] in ("hikari", "lightbulb", "app") and
                          (n.split(".")[0] != "app" or n.split(".")[1:2] in (["bot"], ["extensions"]))]
    assert offenders == []
