-- Give earlier unmatched plays the song that arrived after them.
UPDATE songplays
SET song_id = r.song_id, artist_id = r.artist_id
FROM rematch_batch AS r
WHERE songplays.songplay_id = r.songplay_id;
