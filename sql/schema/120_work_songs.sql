-- The merge's songs, one per song_id (see 110_work_users.sql).
CREATE TABLE IF NOT EXISTS work_songs (
    merge_id    VARCHAR(32) NOT NULL,
    song_id     VARCHAR(64) NOT NULL,
    title       VARCHAR(1024),
    artist_id   VARCHAR(64),
    artist_name VARCHAR(1024),
    year        INTEGER,
    duration    DOUBLE PRECISION,
    source_load VARCHAR(32),
    source_file INTEGER
)
DISTSTYLE ALL;
