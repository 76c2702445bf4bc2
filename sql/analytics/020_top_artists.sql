-- Top 10 artists by plays.
-- Artist as the app logged it, so plays of songs missing from the catalogue count too.
SELECT artist_name AS artist, COUNT(*) AS plays, COUNT(DISTINCT user_id) AS listeners
FROM songplays
GROUP BY artist_name
ORDER BY plays DESC, artist
LIMIT 10;
