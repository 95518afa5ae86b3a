"""Data rights: guild export and deletion, member export and erasure, retention after the bot leaves.

Nothing here knows Discord: the CLI and the bot's extensions call these functions.
"""
from __future__ import annotations
