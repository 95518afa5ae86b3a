#!/usr/bin/env python3
"""Split the legacy database.db into per-guild files: see `--help` and app/legacy/."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.legacy.cli import main

if __name__ == "__main__":
    sys.exit(main())
