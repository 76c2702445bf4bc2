-- Fragment: a play (alias p) matches a song (alias s) on title, artist name and duration to
-- the millisecond. One definition for the fact's batch and for the rematch of earlier plays.
s.title = p.song_title
AND s.artist_name = p.artist_name
AND ROUND(s.duration * 1000) = ROUND(p.song_length * 1000)
