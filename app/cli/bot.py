"""`python -m app run` (the bot) and `python -m app sandbox` (the bot against a local Discord double)."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

from app.config import Settings, utf8_text
from app.errors import ConfigurationError


def register(groups: dict[str, Any]) -> None:
    top = groups[""]
    p = top.add_parser("run", help="start the bot (needs DISCORD_TOKEN)",
                       description="Connect to Discord and serve every guild the bot is in. Splits the "
                                   "legacy database first if LEGACY_DB exists and was not split yet.")
    p.set_defaults(handler=run_command, guild_folder="created")

    from app.sandbox.script import USAGE

    p = top.add_parser("sandbox", help="try the bot locally against a Discord double (no token needed)",
                       description="Start a local Discord double and the real bot, then read actions from "
                                   "the terminal (or --script FILE) and print the bot's replies.",
                       epilog="line forms (one action per line; `help` lists them too):\n" + USAGE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--script", type=Path, metavar="FILE", help="run the actions in FILE, then exit")
    p.add_argument("--demo", action="store_true", help="run the built-in tour: three servers, isolation, files")
    p.add_argument("--json", action="store_true", help="print one JSON object per reply")
    p.add_argument("--dbs", type=Path, metavar="DIR",
                   help="keep the guild files in DIR (default: a temporary folder, removed at exit; "
                        "GUILD_DBS_DIR is never used, so a real bot's folder never receives sandbox guilds)")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve /metrics and /healthz on METRICS_HOST:PORT while the sandbox runs (0: any free port)")
    p.add_argument("--steam", type=Path, metavar="FILE",
                   help="the Steam double's catalogue (JSON: players with games; see docs/discord-double.md); "
                        "default: the built-in one. The sandbox never calls the real Steam")
    p.add_argument("--anilist", type=Path, metavar="FILE",
                   help="the AniList double's catalogue (JSON: users with lists, media; see docs/discord-double.md); "
                        "default: the built-in one. The sandbox never calls the real AniList")
    p.set_defaults(handler=sandbox_command, guild_folder="unused")


BAD_TOKEN = ("DISCORD_TOKEN is not a bot token (three parts separated by dots, the first the bot's id); "
             "copy it again from Discord's developer portal.")


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    import hikari

    from app.bot.app import NO_TOKEN, create_bot
    from app.db.limits import ensure_fd_budget

    # before the split: a launch that cannot log in or cannot open its files changes nothing
    if not settings.discord_token:
        raise ConfigurationError(NO_TOKEN)
    try:
        hikari.applications.get_token_id(settings.discord_token)
    except ValueError:
        raise ConfigurationError(BAD_TOKEN) from None
    ensure_fd_budget(settings.max_open_guild_dbs)
    if settings.metrics_port is not None:
        from app.ops.health import reserve_metrics

        reserve_metrics(settings.metrics_host, settings.metrics_port)  # held through the split, then served
    from app.legacy.launch import split_at_launch  # the splitter's area
    from app.scratch import sweep_stale

    sweep_stale()  # copies of members' data that runs killed with -9 left in TMPDIR
    report = split_at_launch(settings)
    if report is not None:
        print(report.message, flush=True)
    create_bot(settings).run()
    return 0


def script_lines(path: Path) -> list[str]:
    """The script's lines, numbered as an editor numbers them: split at newlines only (`\n`, `\r\n`), not at
    the other characters `str.splitlines` takes for line ends (U+2028, form feed…), which are text in a line.

    Raises:
        ConfigurationError: the file cannot be read or is not UTF-8 text.
    """
    lines = [line.removesuffix("\r") for line in utf8_text(path, f"The script {path}").split("\n")]
    return lines[:-1] if lines and not lines[-1] else lines


def sandbox_command(args: argparse.Namespace, settings: Settings) -> int:
    from app.sandbox.runner import run_sandbox

    if args.demo and args.script:
        raise ConfigurationError("Use either --demo or --script FILE, not both.")
    if args.script is not None and not args.script.is_file():
        raise ConfigurationError(f"There is no script file {args.script}.")
    if settings.log_level != "DEBUG":  # the replies are the output; library chatter would bury them
        for name in ("hikari", "lightbulb", "app.bot.lifecycle", "app.db.checkpoint"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if args.metrics_port is not None:
        if not 0 <= args.metrics_port <= 65_535:
            raise ConfigurationError(f"--metrics-port must be between 0 and 65535, not {args.metrics_port}.")
        settings = dataclasses.replace(settings, metrics_port=args.metrics_port)
    lines = script_lines(args.script) if args.script is not None else None
    return asyncio.run(run_sandbox(settings, script=lines, demo=args.demo, as_json=args.json, dbs=args.dbs,
                                   steam=args.steam, anilist=args.anilist))
