-- v2 -> v3: the days on which each member recorded reading progress (Week Streak counts them).
CREATE TABLE reading_days (
    discord_id  INTEGER NOT NULL,
    day         TEXT    NOT NULL CHECK (date(day, '+0 days') IS day),  -- YYYY-MM-DD, UTC, by the bot's clock
    PRIMARY KEY (discord_id, day)
) WITHOUT ROWID, STRICT;
