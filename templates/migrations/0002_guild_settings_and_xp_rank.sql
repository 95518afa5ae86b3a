-- v1 -> v2: per-server settings, and an index for XP leaderboards.
CREATE TABLE guild_settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_by  INTEGER,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) STRICT;
CREATE INDEX idx_user_xp_rank ON user_xp (xp DESC, discord_id);
