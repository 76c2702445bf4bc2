-- The merge's plays, one per songplay_id, matched to songs (see 110_work_users.sql). Distributed
-- like songplays, so publishing joins them without moving rows between slices.
CREATE TABLE IF NOT EXISTS work_songplays (
    merge_id        VARCHAR(32) NOT NULL,
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
    song_title      VARCHAR(1024),
    artist_name     VARCHAR(1024),
    song_length     DOUBLE PRECISION,
    -- Staged events collapsed into the play: the audit's proof that none was lost.
    events          BIGINT      NOT NULL,
    source_load     VARCHAR(32),
    source_file     INTEGER
)
DISTKEY (songplay_id);
