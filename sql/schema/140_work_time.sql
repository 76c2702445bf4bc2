-- The start times of the merge's plays that the time dimension does not hold yet, split into
-- parts (see 110_work_users.sql): publishing inserts them, no row is rewritten.
CREATE TABLE IF NOT EXISTS work_time (
    merge_id   VARCHAR(32) NOT NULL,
    start_time TIMESTAMP   NOT NULL,
    hour       INTEGER,
    day        INTEGER,
    week       INTEGER,
    month      INTEGER,
    year       INTEGER,
    weekday    INTEGER
)
DISTSTYLE ALL;
