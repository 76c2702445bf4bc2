-- Fragment: a play (alias p) matches a song (alias s) on title, artist name and duration to
-- the millisecond. One definition for the fact's batch and for the rematch of earlier plays.
RTRIM(s.title) = RTRIM(p.song_title)
-- Trailing blanks never count: Redshift ignores them when it compares VARCHARs, PostgreSQL does
-- not, so both sides are trimmed and 'Song ' matches 'Song' on both engines.
AND RTRIM(s.artist_name) = RTRIM(p.artist_name)
AND ROUND(s.duration * 1000) = ROUND(p.song_length * 1000)
