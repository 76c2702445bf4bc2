-- Staging for song metadata (Million Song Dataset): one row per song file, columns named as the
-- JSON keys so Redshift's JSON 'auto' maps them. load_id names the stage transaction.
CREATE TABLE IF NOT EXISTS staging_songs (
    num_songs        INTEGER,
    artist_id        VARCHAR(64),
    artist_latitude  DOUBLE PRECISION,
    artist_longitude DOUBLE PRECISION,
    artist_location  VARCHAR(1024),
    artist_name      VARCHAR(1024),
    song_id          VARCHAR(64),
    title            VARCHAR(1024),
    duration         DOUBLE PRECISION,
    year             INTEGER,
    load_id          VARCHAR(32),
    -- Which file of the load (load_ledger.file_no): a corrected file's old rows can be found.
    file_no          INTEGER
)
-- No sort key: staging holds only unmerged loads and is read whole by each merge, so an
-- ordering (an index, locally) would only slow the bulk loads and steer plans to random reads.
DISTSTYLE EVEN;
