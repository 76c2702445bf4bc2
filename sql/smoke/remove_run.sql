-- `sparkify smoke`: remove every row of one smoke run (its reserved ids, its keys); each statement
-- commits on its own (one Data API call each) and can run again after an interruption.
DELETE FROM staging_events  -- if no merge took them; by reserved id: its load has other files
WHERE user_id BETWEEN CAST(%(first_user)s AS INTEGER) AND CAST(%(last_user)s AS INTEGER);
DELETE FROM staging_songs WHERE song_id LIKE CAST(%(song_ids)s AS VARCHAR(64));
DELETE FROM songplays
WHERE user_id BETWEEN CAST(%(first_user)s AS INTEGER) AND CAST(%(last_user)s AS INTEGER);
-- The time rows of its plays, unless a play of someone else shares the millisecond.
DELETE FROM time
WHERE start_time BETWEEN CAST(%(first_ts)s AS TIMESTAMP) AND CAST(%(last_ts)s AS TIMESTAMP)
  AND NOT EXISTS (SELECT 1 FROM songplays AS p WHERE p.start_time = time.start_time);
DELETE FROM users
WHERE user_id BETWEEN CAST(%(first_user)s AS INTEGER) AND CAST(%(last_user)s AS INTEGER);
DELETE FROM songs WHERE song_id LIKE CAST(%(song_ids)s AS VARCHAR(64));
DELETE FROM artists WHERE artist_id LIKE CAST(%(artist_ids)s AS VARCHAR(64));
DELETE FROM load_ledger
WHERE bucket = CAST(%(bucket)s AS VARCHAR(63))
  AND (key LIKE CAST(%(log_keys)s AS VARCHAR(1024)) OR key LIKE CAST(%(song_keys)s AS VARCHAR(1024)));
