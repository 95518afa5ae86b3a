"""The operator command line: `python -m app <group> <command>`.

Each area (guild, rights, db, bot) registers its commands in `register(groups)`; a command is a function
`(args, settings) -> int` set as the parser's `handler`, and says in `guild_folder` how it uses GUILD_DBS_DIR
(default "existing": the folder must exist). Any failure is one sentence on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from app.cli.failures import check_guild_folder, one_sentence
from app.config import Settings, load_settings
from app.ops.logs import configure_logging

Handler = Callable[[argparse.Namespace, Settings], int]
GROUPS = {
    "guild": "one server's database file",
    "user": "one member's data across every server",
    "db": "every database file at once",
    "legacy": "the legacy database's split and the copies it keeps",
    "global": "the cross-server figures shared by consent",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app", description="guildshelf: the bot and its operator commands.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on failure")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups = {name: top.add_parser(name, help=help_, description=f"Commands on {help_}.")
              .add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
              for name, help_ in GROUPS.items()}
    groups[""] = top
    from app.cli import bot, db, global_, guild, legacy, rights  # each area registers its commands

    for area in (guild, rights, db, bot, legacy, global_):
        area.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format,
                          secrets=(settings.discord_token, settings.steam_api_key))
        check_guild_folder(settings.guild_dbs_dir, getattr(args, "guild_folder", "existing"))
        handler: Handler = args.handler
        return handler(args, settings)
    except KeyboardInterrupt:
        print("Interrupted; work done so far is kept, run the command again to resume.", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(one_sentence(error), file=sys.stderr)
        return 1
