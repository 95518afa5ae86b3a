"""The dry run: what a split would write, as a report (the counts come from the split's own copy, rehearsed)."""
from __future__ import annotations

from app.legacy.plan import Plan
from app.legacy.report import SplitReport, TableCounts


def estimated_counts(plan: Plan) -> dict[str, TableCounts]:
    """Counts from the plan alone (no copy rehearsed): rows the new schema would refuse are not in them."""
    tables = {}
    for table in plan.tables.values():
        skipped = table.read if table.rule.kind == "skip" else 0
        tables[table.name] = TableCounts(str(table.rule), read=table.read,
                                         written=table.read - skipped - table.invalid_guild,
                                         quarantined=table.invalid_guild, skipped=skipped)
    return tables


def dry_run_report(plan: Plan, conflicts: list[str], seconds: float, tables: dict[str, TableCounts],
                   problems: list[str]) -> SplitReport:
    """The plan as a report: rows per table per destination, unknown tables, quarantined rows, what stops it."""
    destinations = plan.destinations()
    problems = [p.user_message for p in plan.problems] + problems
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
              "added_columns": plan.added_columns(),
              "quarantined_rows": {n: c.quarantined for n, c in tables.items() if c.quarantined},
              "problems": problems, "conflicts": conflicts, "would_stop": blocked})
