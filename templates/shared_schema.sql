-- The shared-aggregates file (guild_dbs/shared-aggregates.sqlite3): only what servers and
-- members chose to share across servers. Aggregates only: never a raw row of a guild file.

PRAGMA user_version = 1;

CREATE TABLE shared_meta (
    id              INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    kind            TEXT    NOT NULL DEFAULT 'shared-aggregates' CHECK (kind = 'shared-aggregates'),
    schema_version  INTEGER NOT NULL,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) STRICT;
INSERT INTO shared_meta (schema_version) VALUES (1);

-- One row per server whose admins turned sharing on (the row is the consent: off deletes it).
CREATE TABLE servers (
    guild_id           INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL,
    allow_compare      INTEGER NOT NULL DEFAULT 1,  -- others may compare against it by name
    members            INTEGER NOT NULL DEFAULT 0,  -- members with an AniList link
    chapters_month     INTEGER NOT NULL DEFAULT 0,
    chapters_total     INTEGER NOT NULL DEFAULT 0,
    top_genres         TEXT    NOT NULL DEFAULT '[]',  -- JSON [[genre, members], ...]
    active_challenges  INTEGER NOT NULL DEFAULT 0,
    updated_at         TEXT    NOT NULL
) STRICT;

-- A member's consent in one sharing server, with their figures there (summed into `members`).
-- Deleted with the server's row: sharing off, deletion and purge remove the contribution.
CREATE TABLE member_joins (
    user_id       INTEGER NOT NULL,
    guild_id      INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    chapters      INTEGER NOT NULL DEFAULT 0,
    xp            INTEGER NOT NULL DEFAULT 0,
    achievements  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, guild_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_member_joins_guild ON member_joins (guild_id, user_id);

-- One row per consenting member: their totals over the sharing servers where they joined.
CREATE TABLE members (
    user_id       INTEGER PRIMARY KEY,
    display_name  TEXT    NOT NULL,
    chapters      INTEGER NOT NULL DEFAULT 0,
    xp            INTEGER NOT NULL DEFAULT 0,
    level         INTEGER NOT NULL DEFAULT 0,
    achievements  INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT    NOT NULL
) STRICT;
-- a leaderboard page is the top of one of these
CREATE INDEX idx_members_chapters ON members (chapters DESC, user_id);
CREATE INDEX idx_members_xp ON members (xp DESC, user_id);
CREATE INDEX idx_members_achievements ON members (achievements DESC, user_id);
