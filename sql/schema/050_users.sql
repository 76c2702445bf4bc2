-- Dimension: every identified user. level is the level of the user's latest event by ts;
-- level_ts keeps that ts so an older file arriving late cannot overwrite it.
CREATE TABLE IF NOT EXISTS users (
    user_id    INTEGER NOT NULL,
    first_name VARCHAR(256),
    last_name  VARCHAR(256),
    gender     VARCHAR(16),
    level      VARCHAR(16),
    level_ts   TIMESTAMP
)
DISTSTYLE ALL
SORTKEY (user_id);
