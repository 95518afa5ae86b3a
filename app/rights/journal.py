"""A resumable job's journal: one JSON object per line, synced after each; a torn last line is ignored."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.rights.atomic import FILE_MODE, private_dir


class Journal:
    """Records finished (and started) steps of a fan-out so a rerun continues where it stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash: that step simply runs again
            if isinstance(entry, dict):
                found.append(entry)
        return found

    def done(self) -> dict[int, dict[str, Any]]:
        """Finished guilds and what was recorded for each."""
        return {int(e["guild_id"]): e for e in self.entries() if e.get("state") == "done"}

    def begun_at(self) -> str | None:
        """When the job's first run began (`mark_begun`), if it was recorded."""
        return next((str(e["at"]) for e in self.entries() if e.get("state") == "begun" and "at" in e), None)

    def mark_begun(self, at: str) -> None:
        self.append({"state": "begun", "at": at})

    def started_not_done(self) -> set[int]:
        entries = self.entries()
        done = {int(e["guild_id"]) for e in entries if e.get("state") == "done"}
        return {int(e["guild_id"]) for e in entries if e.get("state") == "started"} - done

    def append(self, entry: dict[str, Any]) -> None:
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)  # it names a member
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
