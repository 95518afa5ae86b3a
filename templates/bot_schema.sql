-- The bot-wide file (guild_dbs/bot-wide.sqlite3): data that belongs to no single
-- server. Never any per-guild user content.

PRAGMA user_version = 1;

CREATE TABLE bot_meta (
    id              INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    kind            TEXT    NOT NULL DEFAULT 'bot-wide' CHECK (kind = 'bot-wide'),
    schema_version  INTEGER NOT NULL,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) STRICT;
INSERT INTO bot_meta (schema_version) VALUES (1);

-- Guilds the bot is or was in. purge_after is set when the bot leaves and
-- cleared when it is added back; the retention purge deletes files past it.
CREATE TABLE guild_registry (
    guild_id     INTEGER PRIMARY KEY,
    name         TEXT,
    joined_at    TEXT,
    left_at      TEXT,
    purge_after  TEXT
) STRICT;
CREATE INDEX idx_guild_registry_purge ON guild_registry (purge_after) WHERE purge_after IS NOT NULL;

-- A record of every deletion: who asked, when, how much. Never any content.
CREATE TABLE deletion_receipts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    scope         TEXT    NOT NULL CHECK (scope IN ('guild', 'member')),
    guild_id      INTEGER,
    user_id       INTEGER,
    requested_by  TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    bytes_deleted INTEGER NOT NULL DEFAULT 0,
    rows_deleted  INTEGER NOT NULL DEFAULT 0,
    deleted_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX idx_deletion_receipts_guild ON deletion_receipts (guild_id);

-- Public AniList media metadata: no user data, rebuildable (legacy columns).
CREATE TABLE manga_cache (
    manga_id       INTEGER PRIMARY KEY,
    title_romaji   TEXT,
    title_english  TEXT,
    chapters       INTEGER,
    volumes        INTEGER,
    genres         TEXT,  -- JSON array
    cover_url      TEXT,
    fetched_at     TEXT    DEFAULT CURRENT_TIMESTAMP
) STRICT;

-- Settings of the bot as a whole (legacy columns).
CREATE TABLE bot_settings (
    key    TEXT PRIMARY KEY,
    value  TEXT
) STRICT;
