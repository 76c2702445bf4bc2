-- Published plays that only an older version of a log file this merge publishes had: the
-- publish removes them, and the time rows nothing references any more. Distributed like songplays.
CREATE TABLE IF NOT EXISTS work_retract_plays (
    merge_id    VARCHAR(32) NOT NULL,
    songplay_id VARCHAR(32) NOT NULL,
    start_time  TIMESTAMP   NOT NULL
)
DISTKEY (songplay_id);
