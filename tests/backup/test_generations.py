"""Generations under attack: runs killed half-way, overlapping runs, equal times, files the bot set aside, a
cut-down interrupted."""
from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.backup import backup_folder, restore_files
from app.backup.generations import LOCK, MANIFEST, STAMP, generations, latest_generation, read_manifest
from app.db.files import quarantine
from app.errors import FileInUseError
from tests.backup.helpers import add_users, users_in

GUILD_A = 111_111_111_111_111_111
GUILD_B = 222_222_222_222_222_222
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def name(guild_id: int) -> str:
    return f"{guild_id}.sqlite3"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Guilds A and B, user 1 in each."""
    folder = tmp_path / "dbs"
    asyncio.run(add_users(folder, GUILD_A, 1))
    asyncio.run(add_users(folder, GUILD_B, 1))
    return folder


def test_a_run_killed_before_its_manifest_leaves_nothing_past_the_next_run(root: Path, tmp_path: Path) -> None:
    # A killed run's folder is no generation (no manifest), so no run ever pruned it: it kept its copies, a
    # deleted guild's among them, for ever.
    out = tmp_path / "backups"
    first = backup_folder(root, out, retention_days=30, now=T0)
    killed = out / "20261101T120000000000Z"
    killed.mkdir()
    shutil.copyfile(first.generation / name(GUILD_B), killed / name(GUILD_B))
    (killed / "manifest.json.partial").write_text("{", encoding="utf-8")

    second = backup_folder(root, out, retention_days=30, now=T0 + timedelta(days=1))

    assert second.incomplete == [killed.name] and not killed.exists()
    assert generations(out) == [first.generation, second.generation]


def test_backups_into_one_folder_take_turns(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "backups"
    backup_folder(root, out, retention_days=0, now=T0)
    fd = os.open(out / LOCK, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another run holds the folder
    try:
        with pytest.raises(FileInUseError) as refused:
            backup_folder(root, out, retention_days=0, wait_s=0.1)
    finally:
        os.close(fd)
    assert "Another backup into" in refused.value.user_message
    assert len(generations(out)) == 1

    errors: list[BaseException] = []

    def run() -> None:
        try:
            backup_folder(root, out, retention_days=0)  # each prunes every other: the folders it links from too
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    newest = latest_generation(out)
    assert set(read_manifest(newest)) == {name(GUILD_A), name(GUILD_B), "bot-wide.sqlite3"}
    (tmp_path / "elsewhere").mkdir()
    assert [r.outcome for r in restore_files(tmp_path / "elsewhere", newest)] == ["restored"] * 3


def test_two_runs_at_the_same_time_make_two_generations_in_order(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "backups"
    first = backup_folder(root, out, retention_days=30, now=T0)
    asyncio.run(add_users(root, GUILD_A, 2))
    second = backup_folder(root, out, retention_days=30, now=T0)  # the same instant (or a clock set back)
    earlier = backup_folder(root, out, retention_days=30, now=T0 - timedelta(hours=1))

    assert first.generation != second.generation and second.copied == [name(GUILD_A)]
    assert generations(out) == [first.generation, second.generation, earlier.generation]  # in the runs' order
    assert users_in(latest_generation(out) / name(GUILD_A)) == {1, 2}
    assert users_in(first.generation / name(GUILD_A)) == {1}


def test_a_folder_not_named_by_a_time_is_no_generation(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "backups"
    first = backup_folder(root, out, retention_days=30, now=T0)
    manual = out / "copy-before-upgrade"
    shutil.copytree(first.generation, manual)  # an operator's own copy: used to stop every run's pruning

    later = backup_folder(root, out, retention_days=0, now=T0 + timedelta(days=1))

    assert later.pruned == [first.generation.name] and manual.is_dir()
    assert latest_generation(out) == later.generation
    assert latest_generation(manual) == manual  # still restorable by its own name


def test_a_file_the_bot_set_aside_keeps_its_last_copy_from_before(root: Path, tmp_path: Path) -> None:
    # The bot sets a damaged file aside when it opens it, and the guild's next command starts a new, empty file:
    # the damaged one was no longer "unreadable" at its name, and its last good copy went after the retention.
    out = tmp_path / "backups"
    first = backup_folder(root, out, retention_days=2, now=T0)
    set_aside = quarantine(root / name(GUILD_B), "damaged")  # as the bot does, here half a day after the backup
    set_aside = set_aside.rename(set_aside.with_name(f"{name(GUILD_B)}.quarantined-{T0 + timedelta(hours=12):{STAMP}}"))
    gone = backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=1))
    asyncio.run(add_users(root, GUILD_B, 5))  # the guild's new file

    runs = [backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=d)) for d in (3, 4)]

    assert gone.set_aside == [name(GUILD_B)] and gone.dropped == []  # set aside, not deleted
    assert runs[0].held == {first.generation.name: [name(GUILD_B)]}
    assert set(read_manifest(first.generation)) == {name(GUILD_B)}
    assert users_in(first.generation / name(GUILD_B)) == {1}  # the content from before, not the new file's
    assert runs[1].pruned == [gone.generation.name] and runs[1].held == {first.generation.name: [name(GUILD_B)]}

    set_aside.unlink()  # the operator recovered the guild and removed the damaged copy
    last = backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=5))
    assert first.generation.name in last.pruned and last.set_aside == []


def test_a_cut_down_killed_after_its_manifest_is_usable_and_finished_next_run(root: Path, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import app.backup.generations as gens

    out = tmp_path / "backups"
    first = backup_folder(root, out, retention_days=2, now=T0)
    (root / name(GUILD_B)).write_bytes(b"\x8f" * 8192)

    unlink = Path.unlink

    def killed(path: Path, missing_ok: bool = False) -> None:
        if path.parent == first.generation:
            raise KeyboardInterrupt  # kill -9 right after the manifest was cut down
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", killed)
    with pytest.raises(KeyboardInterrupt):
        backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=3))
    monkeypatch.undo()

    assert json.loads((first.generation / MANIFEST).read_text())["files"][0]["name"] == name(GUILD_B)
    assert (first.generation / name(GUILD_A)).exists()  # left over, listed nowhere
    (tmp_path / "elsewhere").mkdir()
    restored = restore_files(tmp_path / "elsewhere", first.generation)
    assert [(r.name, r.outcome) for r in restored] == [(name(GUILD_B), "restored")]

    again = gens.backup_folder(root, out, retention_days=2, now=T0 + timedelta(days=4))
    assert again.held == {first.generation.name: [name(GUILD_B)]}
    assert sorted(p.name for p in first.generation.iterdir()) == [name(GUILD_B), MANIFEST]
