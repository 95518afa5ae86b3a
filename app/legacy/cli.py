"""`scripts/split_legacy_db.py`: the split's command line (the script is a thin wrapper)."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from app.config import load_settings
from app.db.ids import parse_guild_id
from app.errors import BotError, UserFacingError
from app.legacy.rules import MAP_SYNTAX
from app.legacy.splitter import SplitOptions, split_legacy

_BAR_MIN_FILES = 20  # smaller splits finish before a bar would be worth drawing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="split_legacy_db.py",
        description="Split the legacy monolithic database into one SQLite file per guild "
                    "(backup first; the legacy file is never modified).")
    parser.add_argument("legacy", type=Path, metavar="LEGACY.db", help="the legacy database file")
    parser.add_argument("--out", type=Path, help="the guild files directory (default: GUILD_DBS_DIR)")
    parser.add_argument("--home-guild", metavar="ID", help="the guild that receives the user-level tables "
                        "(default: HOME_GUILD_ID, else the legacy bot_settings.default_guild)")
    parser.add_argument("--map", action="append", default=[], metavar="TABLE=RULE",
                        help=f"place a table: {MAP_SYNTAX} (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan; write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on failure")
    return parser


def _progress_bar() -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar on stderr, drawn only on a terminal and only for large splits."""
    state: dict[str, tqdm] = {}

    def update(done: int, total: int) -> None:
        if total < _BAR_MIN_FILES or not sys.stderr.isatty():
            return
        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc="splitting", unit="guild", file=sys.stderr, leave=False)
        state["bar"].update(done - state["bar"].n)

    def close() -> None:
        if "bar" in state:
            state["bar"].close()

    return update, close


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    update, close = _progress_bar()
    try:
        settings = load_settings()
        home = parse_guild_id(args.home_guild) if args.home_guild else settings.home_guild_id
        options = SplitOptions(args.legacy, args.out or settings.guild_dbs_dir, home, tuple(args.map),
                               args.dry_run)
        report = split_legacy(options, progress=update)
    except (UserFacingError, BotError) as error:
        if args.debug:
            raise
        message = getattr(error, "user_message", str(error))
        print(message.replace("\n", " "), file=sys.stderr)  # one line, whatever a name held
        return 1
    finally:
        close()
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else report.render())
    if report.status == "dry-run" and report.plan.get("would_stop"):
        stop = " ".join(report.plan["problems"] + report.plan["conflicts"])[:2000]
        print("The split would stop: " + stop.replace("\n", " "), file=sys.stderr)
        return 1
    return 0
