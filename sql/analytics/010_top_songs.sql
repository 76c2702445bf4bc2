-- Top 10 songs by plays.
-- Every play counts, matched to the catalogue or not: title and artist as the app logged them.
SELECT song_title AS song, artist_name AS artist, COUNT(*) AS plays
FROM songplays
GROUP BY song_title, artist_name
ORDER BY plays DESC, song, artist
LIMIT 10;
