"""The legacy splitter: one monolithic database.db into one SQLite file per guild, losing nothing."""
from __future__ import annotations

from app.legacy.report import SplitReport, TableCounts
from app.legacy.splitter import SplitOptions, split_legacy

__all__ = ["SplitOptions", "SplitReport", "TableCounts", "split_legacy"]
