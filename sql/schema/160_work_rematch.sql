-- Earlier plays whose song changes with this merge's songs (matched, re-matched or un-matched;
-- see 110_work_users.sql). Distributed like songplays, which publishing updates from it.
CREATE TABLE IF NOT EXISTS work_rematch (
    merge_id    VARCHAR(32) NOT NULL,
    songplay_id VARCHAR(32) NOT NULL,
    song_id     VARCHAR(64),
    artist_id   VARCHAR(64)
)
DISTKEY (songplay_id);
