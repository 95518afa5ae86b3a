"""How CLI commands print: one JSON object with --json, aligned text otherwise, bars on a terminal."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def emit_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, default=str))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def progress(items: Sequence[T], *, desc: str, enabled: bool = True) -> Iterator[T]:
    """A progress bar on stderr, shown only on a terminal."""
    yield from tqdm(items, desc=desc, unit="file", file=sys.stderr, leave=False,
                    disable=not enabled or not sys.stderr.isatty())


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
