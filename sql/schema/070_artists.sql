-- Dimension: artists, upserted by artist_id.
CREATE TABLE IF NOT EXISTS artists (
    artist_id VARCHAR(64) NOT NULL,
    name      VARCHAR(1024),
    location  VARCHAR(1024),
    latitude  DOUBLE PRECISION,
    longitude DOUBLE PRECISION
)
DISTSTYLE ALL
SORTKEY (artist_id);
