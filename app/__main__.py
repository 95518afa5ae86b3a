"""`python -m app …`: the one entry point of the bot and its operator commands."""
from __future__ import annotations

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
