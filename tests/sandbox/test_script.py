"""Sandbox script lines are parsed as ARCHITECTURE.md describes, and bad lines say why."""
from __future__ import annotations

import pytest

from app.errors import InvalidInputError
from app.sandbox.script import Action, ScriptError, parse_line


def test_slash_command_with_subcommands_quoted_values_and_admin() -> None:
    action = parse_line('111 42 admin /manga update title:"Vagabond Vol 2" chapter:12  # comment', 3)

    assert action == Action(3, "command", 111, 42, True, "manga update",
                            {"title": "Vagabond Vol 2", "chapter": "12"})


@pytest.mark.parametrize(("line", "expected"), [
    ("111 42 click Confirm deletion", Action(1, "click", 111, 42, text="Confirm deletion")),
    ('111 42 modal name:"Manga Club" reason:test', Action(1, "modal", 111, 42,
                                                         options={"name": "Manga Club", "reason": "test"})),
    ("111 42 say hello there", Action(1, "say", 111, 42, text="hello there")),
    ("111 42 join invite:abc", Action(1, "join", 111, 42, options={"invite": "abc"})),
    ("111 42 join", Action(1, "join", 111, 42)),
    ("111 42 leave", Action(1, "leave", 111, 42)),
    ("111 bot join", Action(1, "bot_join", 111)),
    ("111 bot leave", Action(1, "bot_leave", 111)),
    ("dm 42 /server info", Action(1, "command", None, 42, command="server info")),
    ('111 42 autocomplete /manga update title:"Ber"', Action(1, "autocomplete", 111, 42, command="manga update",
                                                             options={"title": "Ber"}, text="title")),
    ('111 42 select "Pick genres" Drama Action', Action(1, "select", 111, 42, text="Pick genres",
                                                         values=("Drama", "Action"))),
    ("111 42 invite club2024 max_uses:5", Action(1, "invite", 111, 42, text="club2024", options={"max_uses": "5"})),
    ("111 42 invite club2024", Action(1, "invite", 111, 42, text="club2024")),
    ("111 42 role manage_guild view_audit_log", Action(1, "role", 111, 42, values=("manage_guild", "view_audit_log"))),
    ("clock +2d", Action(1, "clock", None, seconds=172_800.0)),
    ("clock +90m", Action(1, "clock", None, seconds=5_400.0)),
    ("clock +15s", Action(1, "clock", None, seconds=15.0)),
])
def test_every_line_form(line: str, expected: Action) -> None:
    assert parse_line(line, 1) == expected


@pytest.mark.parametrize("line", ["", "   ", "# only a comment"])
def test_blank_and_comment_lines_are_skipped(line: str) -> None:
    assert parse_line(line, 1) is None


@pytest.mark.parametrize("line", [
    "111 42", "111 bot dance", "111 42 /cmd :nameless", "111 x /server info", "111 42 fly", "111 42 admin",
    '111 42 /cmd name:"unclosed', "111 42 leave now", "dm bot join",
    "111 42 autocomplete /manga", "111 42 autocomplete manga title:x", "111 42 select OnlyMenu",
    "111 42 invite", "111 42 invite abc uses:3", "111 42 role fly_planes", "111 42 role",
    "clock", "clock 2d", "clock +2y", "clock +-1d", "clock +1.5h",
])
def test_malformed_lines_raise_a_script_error(line: str) -> None:
    with pytest.raises(ScriptError):
        parse_line(line, 1)


@pytest.mark.parametrize("guild", ["0", "-5", "abc", str(2**63)])
def test_bad_guild_ids_are_refused(guild: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_line(f"{guild} 42 /server info", 1)


def test_help_lists_every_line_form() -> None:
    from app.sandbox.script import USAGE

    for form in ("/<command>", "click", "modal", "say", "join", "bot join", "autocomplete", "select", "invite",
                 "role", "clock +<N>(s|m|h|d)"):
        assert form in USAGE, form


@pytest.mark.parametrize("line", [
    "111 ² /profile", "111 ０１ /profile", "111 ١٢ /profile",  # digits only in ASCII (int('²') raises)
    "clock +²d", "clock +99999999999d", "clock +3651d",  # an advance past ten years overflows the clocks
    "111 42 invite abc max_uses:²", "111 42 invite abc max_uses:101", "111 42 invite big max_uses:99999999999999999999",
    '111 42 invite ""', '111 42 join invite:""', "111 42 join foo:bar",
    "111 42 /profile member:42 member:43", "111 42 modal a:1 a:2",
])
def test_odd_values_are_script_errors_never_crashes(line: str) -> None:
    with pytest.raises(ScriptError):
        parse_line(line, 1)


def test_a_utf8_bom_and_crlf_are_ignored() -> None:
    assert parse_line("\ufeff111 bot join\r", 1) == Action(1, "bot_join", 111)
    assert parse_line("\ufeff# a comment\r", 1) is None


def test_only_double_quotes_quote_and_a_comment_starts_a_word() -> None:
    assert parse_line("111 42 say I'm reading JoJo's", 1) == Action(1, "say", 111, 42, text="I'm reading JoJo's")
    assert parse_line(r"111 42 say C:\manga", 1) == Action(1, "say", 111, 42, text=r"C:\manga")
    assert parse_line("111 42 say C# is fun # not this", 1) == Action(1, "say", 111, 42, text="C# is fun")
    assert parse_line('111 42 /manga update title:"Frieren: Beyond Journey\'s End" chapter:1', 1) == Action(
        1, "command", 111, 42, command="manga update",
        options={"title": "Frieren: Beyond Journey's End", "chapter": "1"})
    assert parse_line(r'111 42 say "a \"quoted\" word # kept"', 1) == Action(
        1, "say", 111, 42, text='a "quoted" word # kept')
    assert parse_line("\t111\t42\t/help\t", 1) == Action(1, "command", 111, 42, command="help")
