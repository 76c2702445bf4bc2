-- Benchmark reference only: the classic Sparkify etl.py, INSERT ... SELECT DISTINCT from
-- staging into empty tables (its known traps kept: a user per level, artist-only song join).
INSERT INTO {prefix}songplays (songplay_id, start_time, user_id, level, song_id, artist_id,
                               session_id, location, user_agent, item_in_session)
SELECT DISTINCT MD5(CAST(e.session_id AS VARCHAR) || '|' || CAST(e.item_in_session AS VARCHAR)
                    || '|' || COALESCE(CAST(e.user_id AS VARCHAR), '')),
       e.ts, e.user_id, e.level, s.song_id, s.artist_id, e.session_id, e.location,
       e.user_agent, e.item_in_session
FROM {staging_events} AS e
LEFT JOIN {staging_songs} AS s
  ON e.song = s.title AND e.artist = s.artist_name AND e.length = s.duration
WHERE e.page = 'NextSong';
INSERT INTO {prefix}users (user_id, first_name, last_name, gender, level)
SELECT DISTINCT user_id, first_name, last_name, gender, level
FROM {staging_events} WHERE user_id IS NOT NULL;
INSERT INTO {prefix}songs (song_id, title, artist_id, year, duration)
SELECT DISTINCT song_id, title, artist_id, year, duration FROM {staging_songs};
INSERT INTO {prefix}artists (artist_id, name, location, latitude, longitude)
SELECT DISTINCT artist_id, artist_name, artist_location, artist_latitude, artist_longitude
FROM {staging_songs};
INSERT INTO {prefix}time (start_time, hour, day, week, month, year, weekday)
SELECT DISTINCT ts, EXTRACT(HOUR FROM ts), EXTRACT(DAY FROM ts), EXTRACT(WEEK FROM ts),
       EXTRACT(MONTH FROM ts), EXTRACT(YEAR FROM ts), EXTRACT(DOW FROM ts)
FROM {staging_events} WHERE page = 'NextSong';
