-- Published songs that only an older version of a song file this merge publishes had: the
-- publish removes them (see 110_work_users.sql).
CREATE TABLE IF NOT EXISTS work_retract_songs (
    merge_id VARCHAR(32) NOT NULL,
    song_id  VARCHAR(64) NOT NULL
)
DISTSTYLE ALL;
