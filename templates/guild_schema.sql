-- The schema of one guild's database file (guild_dbs/<guild_id>.sqlite3).
--
-- Every table here belongs to one Discord server: there is no guild_id column,
-- isolation holds by construction. The one exception is guild_meta, a single
-- row naming the file's own guild, checked on every open.
--
-- The eighteen tables carried over from the legacy bot keep their legacy names
-- and column names (minus guild_id); the splitter relies on that. Ids are
-- Discord snowflakes (INTEGER); timestamps are ISO-8601 TEXT in UTC.
--
-- This file is always the *current* schema. A file built from an older version
-- is brought forward by templates/migrations/NNNN_*.sql, one version each.

PRAGMA user_version = 3;

CREATE TABLE guild_meta (
    id              INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    guild_id        INTEGER NOT NULL,
    schema_version  INTEGER NOT NULL,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) STRICT;
INSERT INTO guild_meta (guild_id, schema_version) VALUES (0, 3);

-- ------------------------------------------------------------ invite tracker
CREATE TABLE invites (
    code         TEXT    PRIMARY KEY,
    inviter_id   INTEGER,
    channel_id   INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    max_uses     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT    DEFAULT CURRENT_TIMESTAMP,
    expires_at   TEXT
) STRICT;
CREATE INDEX idx_invites_inviter ON invites (inviter_id);

CREATE TABLE invite_uses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    invite_code  TEXT,
    inviter_id   INTEGER,
    joiner_id    INTEGER NOT NULL,
    joined_at    TEXT    DEFAULT CURRENT_TIMESTAMP,
    is_fake      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX idx_invite_uses_inviter ON invite_uses (inviter_id);
CREATE INDEX idx_invite_uses_joiner ON invite_uses (joiner_id);

CREATE TABLE recruitment_stats (
    inviter_id      INTEGER PRIMARY KEY,
    total_invites   INTEGER NOT NULL DEFAULT 0,
    valid_invites   INTEGER NOT NULL DEFAULT 0,
    left_invites    INTEGER NOT NULL DEFAULT 0,
    fake_invites    INTEGER NOT NULL DEFAULT 0,
    bonus_invites   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE user_leaves (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL,
    inviter_id      INTEGER,
    left_at         TEXT    DEFAULT CURRENT_TIMESTAMP,
    days_in_server  REAL
) STRICT;
CREATE INDEX idx_user_leaves_user ON user_leaves (user_id);
CREATE INDEX idx_user_leaves_inviter ON user_leaves (inviter_id);

-- One row: the guild's tracker settings (the legacy guild_id key became id = 1).
CREATE TABLE invite_tracker_settings (
    id                  INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    enabled             INTEGER NOT NULL DEFAULT 1,
    log_channel_id      INTEGER,
    fake_threshold_days INTEGER NOT NULL DEFAULT 7,
    welcome_message     TEXT
) STRICT;

-- ------------------------------------------------------ members and reading
CREATE TABLE users (
    discord_id        INTEGER PRIMARY KEY,
    username          TEXT    NOT NULL,
    anilist_username  TEXT,
    anilist_id        INTEGER,
    created_at        TEXT    DEFAULT CURRENT_TIMESTAMP,
    updated_at        TEXT    DEFAULT CURRENT_TIMESTAMP
) STRICT;
CREATE INDEX idx_users_anilist ON users (anilist_id);

CREATE TABLE user_manga_progress (
    discord_id     INTEGER NOT NULL,
    manga_id       INTEGER NOT NULL,
    title          TEXT,
    chapters_read  INTEGER NOT NULL DEFAULT 0,
    volumes_read   INTEGER NOT NULL DEFAULT 0,
    status         TEXT,  -- CURRENT, COMPLETED, PAUSED, DROPPED, PLANNING, REPEATING
    score          REAL,
    updated_at     TEXT    DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (discord_id, manga_id)
) STRICT;
CREATE INDEX idx_user_manga_progress_manga ON user_manga_progress (manga_id);

-- v3: one row per member per day on which they recorded progress (user_manga_progress keeps only
-- each manga's last update, so a daily reader of one manga would have one day)
CREATE TABLE reading_days (
    discord_id  INTEGER NOT NULL,
    day         TEXT    NOT NULL CHECK (date(day, '+0 days') IS day),  -- YYYY-MM-DD, UTC, by the bot's clock
    PRIMARY KEY (discord_id, day)
) WITHOUT ROWID, STRICT;

CREATE TABLE achievements (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    discord_id      INTEGER NOT NULL,
    achievement_key TEXT    NOT NULL,
    tier            INTEGER NOT NULL DEFAULT 1,
    unlocked_at     TEXT    DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (discord_id, achievement_key)
) STRICT;

CREATE TABLE cached_stats (
    discord_id      INTEGER PRIMARY KEY,
    total_manga     INTEGER NOT NULL DEFAULT 0,
    total_chapters  INTEGER NOT NULL DEFAULT 0,
    total_volumes   INTEGER NOT NULL DEFAULT 0,
    mean_score      REAL,
    days_read       REAL,
    top_genres      TEXT,  -- JSON array
    cached_at       TEXT    DEFAULT CURRENT_TIMESTAMP
) STRICT;

CREATE TABLE user_xp (
    discord_id    INTEGER PRIMARY KEY,
    xp            INTEGER NOT NULL DEFAULT 0,
    level         INTEGER NOT NULL DEFAULT 0,
    last_gain_at  TEXT
) STRICT;
-- v2: leaderboards read the top of this index
CREATE INDEX idx_user_xp_rank ON user_xp (xp DESC, discord_id);

CREATE TABLE steam_users (
    discord_id   INTEGER PRIMARY KEY,
    steam_id     TEXT    NOT NULL,  -- 64-bit SteamID as text
    vanity_name  TEXT,
    linked_at    TEXT    DEFAULT CURRENT_TIMESTAMP
) STRICT;

CREATE TABLE steam_games (
    discord_id        INTEGER NOT NULL,
    app_id            INTEGER NOT NULL,
    name              TEXT,
    playtime_minutes  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (discord_id, app_id)
) STRICT;

CREATE TABLE recommendations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    discord_id  INTEGER NOT NULL,  -- who the recommendation was made for
    manga_id    INTEGER NOT NULL,
    reason      TEXT,
    created_at  TEXT    DEFAULT CURRENT_TIMESTAMP
) STRICT;
CREATE INDEX idx_recommendations_member ON recommendations (discord_id);

CREATE TABLE recommendation_feedback (
    recommendation_id  INTEGER NOT NULL REFERENCES recommendations (id),
    discord_id         INTEGER NOT NULL,
    vote               INTEGER NOT NULL,  -- +1 / -1
    PRIMARY KEY (recommendation_id, discord_id)
) STRICT;
CREATE INDEX idx_recommendation_feedback_member ON recommendation_feedback (discord_id);

CREATE TABLE user_preferences (
    discord_id        INTEGER PRIMARY KEY,
    profile_color     TEXT,
    show_adult        INTEGER NOT NULL DEFAULT 0,
    dm_notifications  INTEGER NOT NULL DEFAULT 1
) STRICT;

-- --------------------------------------------------------------- challenges
CREATE TABLE challenges (
    challenge_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    title         TEXT    NOT NULL,
    description   TEXT,
    created_by    INTEGER,
    start_date    TEXT,
    end_date      TEXT,
    is_active     INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX idx_challenges_active ON challenges (is_active, end_date);

CREATE TABLE challenge_manga (
    challenge_id    INTEGER NOT NULL REFERENCES challenges (challenge_id),
    manga_id        INTEGER NOT NULL,
    title           TEXT,
    total_chapters  INTEGER,
    points          INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (challenge_id, manga_id)
) STRICT;

CREATE TABLE user_progress (
    discord_id     INTEGER NOT NULL,
    challenge_id   INTEGER NOT NULL REFERENCES challenges (challenge_id),
    manga_id       INTEGER NOT NULL,
    chapters_read  INTEGER NOT NULL DEFAULT 0,
    status         TEXT,
    points_earned  INTEGER NOT NULL DEFAULT 0,
    updated_at     TEXT    DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (discord_id, challenge_id, manga_id)
) STRICT;
CREATE INDEX idx_user_progress_challenge ON user_progress (challenge_id, points_earned DESC);

-- ------------------------------------------------------ v2: server settings
-- Per-feature settings an admin sets for this server (key/value, JSON values).
CREATE TABLE guild_settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_by  INTEGER,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) STRICT;
