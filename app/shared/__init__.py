"""Cross-server figures, by consent: the shared-aggregates file, publishing into it, reading from it.

Nothing under here knows Discord. Commands read the store alone (never another server's file);
the publisher opens a guild's file only to compute the aggregates that guild agreed to share.
"""
from __future__ import annotations

from app.shared.store import SHARED_SCHEMA, STORE_FILE_NAME, SharedStore, connect_store, mark_dirty

__all__ = ["SHARED_SCHEMA", "STORE_FILE_NAME", "SharedStore", "connect_store", "mark_dirty"]
