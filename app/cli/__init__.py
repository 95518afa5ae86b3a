"""The operator command line: `python -m app <group> <command>`.

Each area (guild, rights, db, bot) registers its commands in `register(groups)`; a command is a function
`(args, settings) -> int` set as the parser's `handler`, and says in `guild_folder` how it uses GUILD_DBS_DIR
(default "existing": the folder must exist). Any failure is one sentence on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import io
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

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


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one sentence on stderr (exit 2), like every other failure."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split()).rstrip(".")
        self.exit(2, f"{self.prog}: {text}; see {self.prog} --help.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m app", description="guildshelf: the bot and its operator commands.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on failure")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups = {name: top.add_parser(name, help=help_, description=f"Commands on {help_}.")
              .add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
              for name, help_ in GROUPS.items()}
    groups[""] = top
    from app.cli import backup, bot, db, global_, guild, legacy, rights, shards  # each area registers its commands

    for area in (guild, rights, db, bot, legacy, global_, shards, backup):
        area.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # An operator command's log lines wait until it ends: shown if it succeeds (or with --debug), dropped
    # if it fails, whose stderr is then its one sentence. The bot and the sandbox log as they go.
    held = None if args.debug or args.command in ("run", "sandbox") else io.StringIO()
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format, held,
                          secrets=(settings.discord_token, settings.steam_api_key))
        check_guild_folder(settings.guild_dbs_dir, getattr(args, "guild_folder", "existing"))
        handler: Handler = args.handler
        code = handler(args, settings)
        if code == 0:
            _show(held)
        return code
    except KeyboardInterrupt:
        _show(held)  # the lines logged so far tell what was done
        print("Interrupted; work done so far is kept, run the command again to resume.", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(one_sentence(error), file=sys.stderr)
        return 1
    finally:
        _release(held)


def _show(held: io.StringIO | None) -> None:
    if held is not None:
        sys.stderr.write(held.getvalue())
        sys.stderr.flush()


def _release(held: io.StringIO | None) -> None:
    """Detach the handler writing into `held` (main may run again in this process)."""
    if held is None:
        return
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream is held:
            root.removeHandler(handler)
