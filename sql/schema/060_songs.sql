-- Dimension: songs, upserted by song_id. duration in seconds with the source's precision
-- (DOUBLE PRECISION: a DECIMAL(9) would round it and no play would ever match).
CREATE TABLE IF NOT EXISTS songs (
    song_id   VARCHAR(64) NOT NULL,
    title     VARCHAR(1024),
    artist_id VARCHAR(64),
    -- The artist as credited on this song (MSD spellings vary per song): plays match on it.
    artist_name VARCHAR(1024),
    year      INTEGER,
    duration  DOUBLE PRECISION,
    -- The object version the row came from (load_ledger.load_id, file_no).
    source_load VARCHAR(32),
    source_file INTEGER
)
DISTSTYLE ALL
SORTKEY (song_id);
