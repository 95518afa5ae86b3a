"""The sandbox end to end: scripts, --json output, the demo tour, and the CLI entry."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.sandbox.demo import MANGA_CLUB, SEINEN, SHONEN
from app.sandbox.harness import running_bot
from app.sandbox.runner import ScriptRunner, run_sandbox

ROOT = Path(__file__).resolve().parents[2]


async def _run(tmp_path: Path, lines: list[str], extensions: list[str] | None = None) -> list[dict[str, object]]:
    out: list[str] = []
    async with running_bot(tmp_path / "guild_dbs", extensions=extensions) as harness:
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        for number, text in enumerate(lines, start=1):
            await runner.run_line(text, number)
    return [json.loads(o) for o in out]


@pytest.mark.asyncio
async def test_script_replies_follow_the_json_contract_and_errors_do_not_stop_it(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "# a comment",
        "555 7 admin /server info",
        "this is not a line",
        "555 8 /server info",
        "555 8 click Nothing",
    ])

    assert [o["line"] for o in objects] == [1, 3, 4, 5, 6]
    info = objects[1]
    assert set(info) == {"line", "guild_id", "user_id", "ephemeral", "content", "embeds", "components",
                         "choices", "attachments"}
    assert info["guild_id"] == 555 and info["user_id"] == 7 and info["ephemeral"] is True
    assert info["embeds"][0]["title"] == "This server's database"  # type: ignore[index]
    assert "error" in objects[2] and "error" in objects[4]
    assert objects[3]["content"] == "Only members with the Manage Server permission can use /server info."


@pytest.mark.asyncio
async def test_demo_shows_each_server_only_its_own_rows(tmp_path: Path) -> None:
    out: list[str] = []
    settings = Settings(guild_dbs_dir=tmp_path / "unused")
    code = await run_sandbox(settings, script=None, demo=True, as_json=True, dbs=tmp_path / "kept")
    assert code == 0
    async with running_bot(tmp_path / "kept2") as harness:
        from app.sandbox.demo import run_demo

        await run_demo(ScriptRunner(harness, as_json=True, out=out.append), keep=True)
    infos = [o for o in map(json.loads, out)
             if o.get("embeds") and any(f["name"].startswith("Rows") for f in o["embeds"][0]["fields"])]
    rows = {o["guild_id"]: next(f["value"] for f in o["embeds"][0]["fields"] if f["name"].startswith("Rows"))
            for o in infos}
    assert "user_manga_progress: 2" in rows[MANGA_CLUB] and "achievements: 3" in rows[MANGA_CLUB]
    assert "user_manga_progress: 1" in rows[SHONEN] and "achievements" not in rows[SHONEN]
    assert rows[SEINEN] == "guild_meta: 1"
    kept = sorted(p.name for p in (tmp_path / "kept").iterdir() if p.suffix == ".sqlite3")
    assert kept == sorted([f"{MANGA_CLUB}.sqlite3", f"{SHONEN}.sqlite3", f"{SEINEN}.sqlite3", "bot-wide.sqlite3"])
    assert not (tmp_path / "unused").exists()


def _cli(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GUILD_DBS_DIR": str(cwd / "real_guild_dbs")}
    env.pop("DISCORD_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_sandbox_reads_stdin_and_never_touches_guild_dbs_dir(tmp_path: Path) -> None:
    result = _cli("sandbox", "--json", cwd=tmp_path, stdin="9 bot join\n9 1 admin /server info\n")

    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["guild_id"] == 9 and reply["embeds"][0]["title"] == "This server's database"
    assert not (tmp_path / "real_guild_dbs").exists() and not (tmp_path / "guild_dbs").exists()


def test_cli_run_without_a_token_exits_with_one_sentence(tmp_path: Path) -> None:
    result = _cli("run", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "DISCORD_TOKEN" in result.stderr and "python -m app sandbox" in result.stderr


def test_cli_sandbox_help_lists_every_line_form(tmp_path: Path) -> None:
    result = _cli("sandbox", "--help", cwd=tmp_path)

    assert result.returncode == 0
    for form in ("[admin] /<command>", "click <button", "modal <field>", "say <text>", "join [invite:<code>]",
                 "bot join | bot leave", "autocomplete /<command>", "select <placeholder", "invite <code>",
                 "role <permission>", "clock +<N>(s|m|h|d)"):
        assert form in result.stdout, form


@pytest.mark.asyncio
async def test_a_line_for_a_server_the_bot_has_not_joined_is_refused_with_a_sentence(tmp_path: Path) -> None:
    objects = await _run(tmp_path, ["777 5 admin /server info", "777 5 say hi", "777 bot join",
                                    "777 5 admin /server info"])

    assert objects[0]["error"] == "The bot is not in server 777: add it first with `777 bot join`."
    assert objects[1]["error"] == objects[0]["error"]
    assert objects[3]["embeds"]


@pytest.mark.asyncio
async def test_role_invite_and_clock_lines_reach_the_bot(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 8 /server info",
        "555 8 role manage_guild",
        "555 8 /server info",
        "555 8 invite club2024 max_uses:3",
        "555 bot leave",
        "clock +31d",
    ])

    assert objects[1]["content"] == "Only members with the Manage Server permission can use /server info."
    assert objects[3]["embeds"][0]["title"] == "This server's database"  # type: ignore[index]
    assert objects[4]["event"] == "user 8 created invite club2024"
    assert str(objects[6]["event"]).startswith("the clock moved forward 31d")
    assert not (tmp_path / "guild_dbs" / "555.sqlite3").exists()  # purged: retention is over


@pytest.mark.asyncio
async def test_autocomplete_and_select_lines(tmp_path: Path) -> None:
    from app.bot.app import extension_modules

    objects = await _run(tmp_path, [
        "555 bot join",
        '555 8 autocomplete /widgets pick title:"b"',
        "555 8 /widgets pick title:Frieren",
        '555 8 select "Pick genres" Drama',
    ], extensions=[*extension_modules(), "tests.doubles.widgets_ext"])

    assert objects[1]["choices"] == ["Berserk", "Bleach", "Blue Period"]
    assert objects[2]["components"] == ["Pick genres"]
    assert objects[3]["content"] == "Picked Drama."


REPLY_KEYS = {"line", "guild_id", "user_id", "ephemeral", "content", "embeds", "components", "choices", "attachments"}


@pytest.mark.asyncio
async def test_every_reply_object_has_every_key_of_the_contract(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 8 /help",
        '555 8 autocomplete /manga update title:"One"',
    ])

    assert set(objects[1]) >= REPLY_KEYS and objects[1]["choices"] == []
    assert set(objects[2]) >= REPLY_KEYS and objects[2]["choices"] == ["One Piece"]
    assert objects[2]["content"] == "" and objects[2]["embeds"] == [] and objects[2]["ephemeral"] is True


@pytest.mark.asyncio
async def test_a_mistyped_modal_field_keeps_the_modal_open(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 8 admin /server-data delete",
        '555 8 admin click "Delete everything"',
        "555 8 admin modal bogus:x",
        '555 8 admin modal "Server name":"Server 555"',
    ])

    assert objects[3]["error"] == "the modal has no field 'bogus' (fields: Server name)"
    assert "error" not in objects[4], objects[4]
    assert not (tmp_path / "guild_dbs" / "555.sqlite3").exists()


@pytest.mark.asyncio
async def test_an_unexpected_failure_is_an_error_object_and_the_script_goes_on(tmp_path: Path) -> None:
    out: list[str] = []
    async with running_bot(tmp_path / "guild_dbs") as harness:
        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        harness.say = broken  # type: ignore[method-assign]
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        for number, text in enumerate(["555 bot join", "555 8 say hi", "555 8 /help"], start=1):
            await runner.run_line(text, number)
    objects = [json.loads(o) for o in out]

    assert objects[1] == {"line": 2, "error": "unexpected RuntimeError: boom"}
    assert objects[2]["line"] == 3 and objects[2]["embeds"]
    assert runner.errors == 1


def test_cli_script_with_a_bom_crlf_and_odd_lines_runs_to_the_end(tmp_path: Path) -> None:
    script = tmp_path / "odd.txt"
    script.write_bytes("\ufeff9 bot join\r\n9 ² /help\r\nclock +99999999999d\r\n9 42 say I'm here\r\n9 1 /help\r\n"
                       .encode())

    result = _cli("sandbox", "--script", str(script), "--json", cwd=tmp_path)

    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["line"] for o in objects] == [1, 2, 3, 4, 5], result.stderr
    assert "error" in objects[1] and "error" in objects[2] and "error" not in objects[0]
    assert objects[3]["event"] == "user 42 posted a message" and objects[4]["embeds"]
    assert result.returncode == 1  # lines 2 and 3 failed


@pytest.mark.asyncio
async def test_the_clock_refuses_to_move_past_what_dates_can_hold(tmp_path: Path) -> None:
    from datetime import timedelta

    out: list[str] = []
    async with running_bot(tmp_path / "guild_dbs") as harness:
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        await runner.run_line("555 bot join", 1)
        harness.clock.advance(timedelta(days=365 * (8999 - harness.clock.now().year)))
        for number, text in enumerate(["clock +3650d", "555 8 /help"], start=2):
            await runner.run_line(text, number)
    objects = [json.loads(o) for o in out]

    assert objects[1] == {"line": 2, "error": "the clock cannot move past the year 9000"}
    assert objects[2]["embeds"], objects[2]


def test_cli_script_lines_are_its_newlines_only(tmp_path: Path) -> None:
    # U+2028, form feeds and the like are text inside a line: splitting on them shifted every later line number
    script = tmp_path / "seps.txt"
    script.write_bytes("9 bot join\n9 42 say a\u2028b\x0cc\x1ed\u0085e\n9 1 /help\n".encode())

    result = _cli("sandbox", "--script", str(script), "--json", cwd=tmp_path)

    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["line"] for o in objects] == [1, 2, 3], result.stderr
    assert objects[2]["embeds"]


def test_cli_a_script_that_is_not_utf8_is_one_sentence(tmp_path: Path) -> None:
    script = tmp_path / "latin1.txt"
    script.write_bytes(b"9 bot join\n9 42 say caf\xe9\n")

    result = _cli("sandbox", "--script", str(script), "--json", cwd=tmp_path)

    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"The script {script} is not UTF-8 text (line 2); save it as UTF-8 and run it again."]


@pytest.mark.asyncio
async def test_autocomplete_lines_do_not_depend_on_how_fast_they_follow_each_other(tmp_path: Path) -> None:
    # the bot paces AniList (a request every 2 s) and a suggestion never waits for a slot: played back to back,
    # the second and third lines used to offer nothing; the sandbox plays each once the bot could ask AniList
    objects = await _run(tmp_path, [
        "555 bot join",
        '555 8 autocomplete /manga update title:"Full"',
        '555 8 autocomplete /manga update title:"Monster"',
        '555 8 autocomplete /manga update title:"One"',
    ])

    choices = [o["choices"] for o in objects[1:]]
    assert all(choices), objects
    assert "One Piece" in str(choices[2])


@pytest.mark.asyncio
async def test_join_lines_in_a_row_are_each_credited_to_their_invite(tmp_path: Path) -> None:
    # joins milliseconds apart look like a raid to the invite tracker (several uses between two reads of the
    # invites: nobody can say whose invite each used); a script's joins are played as members arrive, one
    # recorded before the next
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 2000 /profile",
        "555 2000 invite abc",
        "555 2001 invite xyz",
        *(f"555 {3000 + i} join invite:{'abc' if i % 2 else 'xyz'}" for i in range(6)),
        "555 2000 /invites stats",
        "555 2001 /invites stats",
    ])

    stats = [o["embeds"][0] for o in objects[-2:]]  # type: ignore[index]
    assert [e["description"] for e in stats] == ["<@2000> has **3** invites.", "<@2001> has **3** invites."]


@pytest.mark.asyncio
async def test_an_embeds_footer_reaches_the_json(tmp_path: Path) -> None:
    # the leaderboards say the member's own rank and the page in the footer: a script must see it
    objects = await _run(tmp_path, ["555 bot join", "555 42 say hello", "555 42 /leaderboard"])

    footer = objects[2]["embeds"][0]["footer"]  # type: ignore[index]
    assert isinstance(footer, str) and "#1" in footer, footer


@pytest.mark.asyncio
async def test_a_say_line_ends_once_its_xp_is_written_and_shows_the_level_up_it_posted(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 7 admin /settings xp_amount:500 levelup_announcements:true",
        "555 8 say hello",
        "555 8 /profile",
    ])
    said = [o for o in objects if o["line"] == 3]
    assert said[0].get("event") == "user 8 posted a message"
    assert [str(o.get("event")).split(": ", 1)[-1] for o in said][1:] == ["<@8> reached level 2!"]
    profile = json.dumps([o for o in objects if o["line"] == 4])
    assert "500" in profile  # the XP of the line before, written before the next line runs


@pytest.mark.asyncio
async def test_a_help_line_in_a_script_lists_the_line_forms(tmp_path: Path) -> None:
    from app.sandbox.script import USAGE

    objects = await _run(tmp_path, ["help", "555 bot join"])
    assert objects[0] == {"line": 1, "guild_id": None, "user_id": None, "event": USAGE}
    assert "error" not in objects[1]


@pytest.mark.asyncio
async def test_joining_by_a_used_up_invite_is_refused_not_credited_to_the_owner(tmp_path: Path) -> None:
    objects = await _run(tmp_path, [
        "555 bot join",
        "555 7 invite def max_uses:1",
        "555 8 join invite:def",
        "555 9 join invite:def",  # def was single-use: Discord deleted it after user 8
        "555 10 join invite:new",  # never made: the server's owner makes it (the sandbox's convenience)
    ])
    by_line = {int(str(o["line"])): o for o in objects}
    assert "error" not in by_line[3]
    assert "invite def no longer exists" in str(by_line[4]["error"])
    assert by_line[5]["event"] == "user 10 joined server 555"


@pytest.mark.asyncio
async def test_the_first_say_of_a_sandbox_waits_for_its_xp_like_the_others(tmp_path: Path) -> None:
    # No command had made the bot's XP service yet, so the first `say` did not wait: its level-up came under the
    # next line, or after the script's end (then never shown).
    settings = Settings(guild_dbs_dir=tmp_path / "unused")
    setup = tmp_path / "setup.txt"
    setup.write_text("555 bot join\n555 7 admin /settings xp_amount:100 levelup_announcements:true xp_cooldown:0\n",
                     encoding="utf-8")
    from app.cli.bot import script_lines

    assert await run_sandbox(settings, script=script_lines(setup), demo=False, as_json=True,
                             dbs=tmp_path / "kept") == 0
    out: list[str] = []
    async with running_bot(tmp_path / "kept", settings=settings) as harness:  # a new process on those files
        runner = ScriptRunner(harness, as_json=True, out=out.append)
        for number, text in enumerate(["555 bot join", "555 8 say hi", "555 8 say again"], start=1):
            await runner.run_line(text, number)
    objects = [json.loads(o) for o in out]

    posted = [(o["line"], str(o["event"]).split(": ", 1)[-1]) for o in objects if "posted in" in str(o.get("event"))]
    assert posted == [(2, "<@8> reached level 1!")]  # 100 XP; the second line's 200 reach no new level


@pytest.mark.asyncio
async def test_help_as_a_line_in_any_case_with_spaces_or_a_byte_order_mark(tmp_path: Path) -> None:
    from app.sandbox.script import USAGE

    objects = await _run(tmp_path, ["\ufeffhelp", "  HELP\t", "Help", "help me"])

    assert [o.get("event") for o in objects[:3]] == [USAGE] * 3
    assert "error" in objects[3]  # not a bare `help`: an ordinary line, refused as one


def test_cli_sandbox_prompt_takes_help_and_quit_in_any_case(tmp_path: Path) -> None:
    result = _cli("sandbox", "--json", cwd=tmp_path, stdin="HELP\n9 bot join\n QUIT \n9 1 admin /server info\n")

    assert result.returncode == 0, result.stderr
    assert "say <text>" in result.stdout  # the line forms
    assert "This server's database" not in result.stdout  # nothing after QUIT ran
