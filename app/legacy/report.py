"""What a split did (or would do): per-table counts, guilds, files, and the balance check."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.errors import LegacySplitError

Status = Literal["split", "already-split", "dry-run"]


@dataclass(slots=True)
class TableCounts:
    destination: str  # the rule: guild:COLUMN, home, global or skip
    read: int = 0
    written: int = 0
    quarantined: int = 0
    skipped: int = 0
    orphans: int = 0  # rows copied whose foreign key points at no row (kept as they were)

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.quarantined + self.skipped


@dataclass(slots=True)
class SplitReport:
    status: Status
    tables: dict[str, TableCounts]
    guilds: list[int]
    seconds: float
    manifest: Path | None = None
    backup: Path | None = None
    quarantine: Path | None = None
    home_guild_id: int | None = None
    message: str = ""
    plan: dict[str, Any] = field(default_factory=dict)  # dry run: destinations, unknown tables, problems

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "status": self.status,
            "tables": {name: {"destination": c.destination, "read": c.read, "written": c.written,
                              "quarantined": c.quarantined, "skipped": c.skipped, "orphans": c.orphans}
                       for name, c in sorted(self.tables.items())},
            "guilds": self.guilds,
            "manifest": str(self.manifest) if self.manifest else None,
            "seconds": round(self.seconds, 3),
            "backup": str(self.backup) if self.backup else None,
            "quarantine": str(self.quarantine) if self.quarantine else None,
            "home_guild_id": self.home_guild_id,
            "message": self.message,
        }
        if self.plan:
            payload["plan"] = self.plan
        return payload

    def render(self) -> str:
        """The report as aligned text for a terminal."""
        header = ("table", "destination", "read", "written", "quarantined", "skipped", "orphans")
        rows = [(n, c.destination, c.read, c.written, c.quarantined, c.skipped, c.orphans)
                for n, c in sorted(self.tables.items())]
        cells = [[str(v) for v in row] for row in (header, *rows)]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        for key, value in (("backup", self.backup), ("quarantine", self.quarantine),
                           ("manifest", self.manifest)):
            if value:
                lines.append(f"{key}: {value}")
        lines.append(self.message)
        return "\n".join(lines)


def check_balance(tables: dict[str, TableCounts]) -> None:
    """Rows in = written + quarantined + skipped, for every legacy table.

    Raises:
        LegacySplitError: naming every table where the equation does not hold.
    """
    bad = [f"{n} (read {c.read}, written {c.written}, quarantined {c.quarantined}, skipped {c.skipped})"
           for n, c in sorted(tables.items()) if not c.balanced]
    if bad:
        raise LegacySplitError("The split does not account for every legacy row: " + "; ".join(bad)
                               + "; nothing was moved into place, please report this.")
