-- Dimension: one row per distinct songplay start_time (milliseconds kept).
CREATE TABLE IF NOT EXISTS time (
    start_time TIMESTAMP NOT NULL,
    hour       INTEGER,
    day        INTEGER,
    week       INTEGER,
    month      INTEGER,
    year       INTEGER,
    weekday    INTEGER
)
DISTSTYLE ALL
SORTKEY (start_time);
