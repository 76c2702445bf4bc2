-- The merge's artists, one per artist_id (see 110_work_users.sql).
CREATE TABLE IF NOT EXISTS work_artists (
    merge_id  VARCHAR(32) NOT NULL,
    artist_id VARCHAR(64) NOT NULL,
    name      VARCHAR(1024),
    location  VARCHAR(1024),
    latitude  DOUBLE PRECISION,
    longitude DOUBLE PRECISION
)
DISTSTYLE ALL;
