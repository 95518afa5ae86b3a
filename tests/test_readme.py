"""The README is the front door: its operator commands, settings and links must match the code."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser
from app.config import load_settings
from app.engine import ENV as ENGINE_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the README's `## title` section, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"the README has no '## {title}' section"
    return match.group(1)


def first_cells(title: str) -> list[str]:
    """The first cell of every row of the tables in a README section, without the header rows."""
    cells = []
    for line in section(title).splitlines():
        if line.startswith("| `"):
            cells.append(line.split(" | ")[0].removeprefix("| "))
    return cells


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_commands() -> dict[str, argparse.ArgumentParser]:
    """Every command `python -m app` accepts ("guild list", "run", ...), with its parser."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        children = subparsers(parser)
        if not children:
            found[" ".join(prefix)] = parser
        for name, child in children.items():
            walk(child, (*prefix, name))

    walk(build_parser(), ())
    return found


def readme_app_commands() -> list[tuple[str, list[str]]]:
    """Each `python -m app ...` row of the operator table: (the command it names, the rest of the row's words)."""
    rows = []
    for cell in first_cells("Operator commands"):
        words = cell.strip("`").split()
        if words[:3] != ["python", "-m", "app"]:
            continue
        parser, path, rest = build_parser(), [], words[3:]
        while rest and rest[0] in subparsers(parser):
            parser = subparsers(parser)[rest[0]]
            path.append(rest.pop(0))
        rows.append((" ".join(path) or " ".join(words[3:4]), rest))
    return rows


def test_every_operator_command_in_the_readme_exists_with_its_options() -> None:
    commands = cli_commands()
    rows = readme_app_commands()
    assert rows, "the operator table lists no `python -m app` command"
    for command, rest in rows:
        assert command in commands, f"the README lists `python -m app {command}`, which the CLI does not have"
        options = {o for a in commands[command]._actions for o in a.option_strings}
        for word in rest:
            flag = re.match(r"\[?(--[a-z][a-z-]*)", word)
            if flag:
                assert flag.group(1) in options, f"`python -m app {command}` has no option {flag.group(1)}"


def test_every_cli_command_is_in_the_readme() -> None:
    listed = {command for command, _ in readme_app_commands()}
    missing = sorted(set(cli_commands()) - listed)
    assert not missing, f"commands missing from the README's operator table: {missing}"


def test_every_script_is_in_the_readme_and_every_listed_script_exists() -> None:
    listed = {m.group(1) for cell in first_cells("Operator commands")
              for m in [re.match(r"`python (scripts/\S+\.py)", cell)] if m}
    on_disk = {f"scripts/{p.name}" for p in (ROOT / "scripts").glob("*.py") if not p.name.startswith("_")}
    assert listed == on_disk


def script_rows() -> list[tuple[str, list[str]]]:
    rows = []
    for cell in first_cells("Operator commands"):
        words = cell.strip("`").split()
        if words[0] == "python" and words[1].startswith("scripts/"):
            rows.append((words[1], words[2:]))
    return rows


@pytest.mark.parametrize(("script", "rest"), script_rows(), ids=[s for s, _ in script_rows()])
def test_every_option_of_a_script_in_the_readme_is_in_its_help(script: str, rest: list[str]) -> None:
    shown = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60, check=True).stdout
    for word in rest:
        flag = re.match(r"\[?(--[a-z][a-z-]*)", word)
        if flag:
            assert re.search(rf"{flag.group(1)}\b", shown), f"`{script} --help` shows no {flag.group(1)}"


def test_every_module_command_in_the_readme_can_be_found() -> None:
    for cell in first_cells("Operator commands"):
        module = re.match(r"`python -m (app\.[\w.]+)", cell)
        if module:
            assert (ROOT / (module.group(1).replace(".", "/") + ".py")).is_file(), module.group(1)


class RecordingEnv(dict[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def test_the_configuration_table_is_exactly_what_load_settings_reads() -> None:
    env = RecordingEnv()
    load_settings(env)
    env.asked.add(ENGINE_VARIABLE)  # the SQLite engine is chosen when `app` is imported, before any settings
    table = {cell.strip("`") for cell in first_cells("Configuration")}
    assert table, "the configuration table is empty"
    assert sorted(table - env.asked) == [], "settings in the README that load_settings never reads"
    assert sorted(env.asked - table) == [], "variables load_settings reads that the README does not list"


@pytest.mark.parametrize("target", sorted(set(re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", README))))
def test_every_docs_file_linked_from_the_readme_exists(target: str) -> None:
    assert (ROOT / target).is_file()


def test_every_docs_file_is_linked_from_the_readme() -> None:
    linked = set(re.findall(r"\]\((docs/[^)#]+)", README))
    assert {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")} <= linked


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings (lowercase, punctuation dropped, spaces to hyphens)."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def test_links_between_docs_files_and_their_anchors_resolve() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#:]*\.md)?(?:#([^)]*))?\)", text):
            linked = (page.parent / target).resolve() if target else page
            assert linked.is_file(), f"{page.name} links to missing {target}"
            if anchor:
                assert anchor in anchors(linked), f"{page.name} links to #{anchor}, not a heading of {linked.name}"
