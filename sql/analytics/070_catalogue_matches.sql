-- Plays matched to the song catalogue (title, artist and length to the millisecond).
-- Unmatched plays wait for their song: a later merge matches them when it arrives.
SELECT COUNT(*) AS plays, COUNT(song_id) AS matched, COUNT(*) - COUNT(song_id) AS unmatched
FROM songplays;
