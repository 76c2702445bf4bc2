-- Remove the songs only an older version of a republished song file had (work/retract_songs.sql).
DELETE FROM songs
WHERE song_id IN (SELECT r.song_id FROM work_retract_songs AS r
    WHERE r.merge_id = CAST(%(merge_id)s AS VARCHAR(32)));
