"""The dry run: what a split would write, read from the legacy file alone."""
from __future__ import annotations

from app.legacy.plan import Plan
from app.legacy.report import SplitReport, TableCounts


def dry_run_report(plan: Plan, conflicts: list[str], seconds: float) -> SplitReport:
    """The plan as a report: rows per table per destination, unknown tables, quarantined rows."""
    tables = {}
    for table in plan.tables.values():
        skipped = table.read if table.rule.kind == "skip" else 0
        tables[table.name] = TableCounts(str(table.rule), read=table.read,
                                         written=table.read - skipped - table.invalid_guild,
                                         quarantined=table.invalid_guild, skipped=skipped)
    destinations = plan.destinations()
    problems = [p.user_message for p in plan.problems]
    blocked = bool(problems or conflicts)
    message = (f"Dry run: {sum(c.written for c in tables.values())} row(s) would go to "
               f"{len(destinations)} guild file(s) and the bot-wide file; nothing was written.")
    if blocked:
        message += " The split would stop: " + " ".join(problems + [f"conflict: {c}" for c in conflicts])
    return SplitReport(
        status="dry-run", tables=tables, guilds=list(destinations), seconds=seconds,
        home_guild_id=plan.home_guild_id, message=message,
        plan={"destinations": {str(g): rows for g, rows in destinations.items()},
              "bot_wide": {n: r for n, r in plan.global_rows().items() if r},
              "unknown_tables": {n: [c.name for c in cols] for n, cols in plan.unknown.items()},
              "quarantined_rows": {t.name: t.invalid_guild for t in plan.tables.values() if t.invalid_guild},
              "problems": problems, "conflicts": conflicts, "would_stop": blocked})
