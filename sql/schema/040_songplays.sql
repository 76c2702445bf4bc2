-- Fact: one row per NextSong event. songplay_id = md5 of the natural key
-- (session_id, item_in_session, user_id), so reloading an event never adds a row.
CREATE TABLE IF NOT EXISTS songplays (
    songplay_id     VARCHAR(32) NOT NULL,
    start_time      TIMESTAMP   NOT NULL,
    user_id         INTEGER,
    level           VARCHAR(16),
    song_id         VARCHAR(64),
    artist_id       VARCHAR(64),
    session_id      INTEGER     NOT NULL,
    location        VARCHAR(1024),
    user_agent      VARCHAR(1024),
    item_in_session INTEGER     NOT NULL,
    -- Kept from the event so a song that arrives later can still be matched.
    song_title      VARCHAR(1024),
    artist_name     VARCHAR(1024),
    song_length     DOUBLE PRECISION,
    merge_id        VARCHAR(32),
    -- The object version the row came from (load_ledger.load_id, file_no): publishing a newer
    -- version of that key removes the rows only the older one had.
    source_load     VARCHAR(32),
    source_file     INTEGER
)
DISTKEY (songplay_id)
SORTKEY (start_time);
