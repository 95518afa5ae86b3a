"""Continuous replication of the guild files with Litestream 0.5 (the optional `replicate` extra)."""
