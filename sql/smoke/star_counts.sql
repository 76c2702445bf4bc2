-- `sparkify smoke`: the star schema's rows for one smoke run's reserved ids, in one row: plays,
-- plays matched to a song, users, songs, artists, and the time rows of the run's plays.
SELECT
    (SELECT COUNT(*) FROM songplays
        WHERE user_id BETWEEN CAST(%(first_user)s AS INTEGER) AND CAST(%(last_user)s AS INTEGER)),
    (SELECT COUNT(*) FROM songplays
        WHERE user_id BETWEEN CAST(%(first_user)s AS INTEGER) AND CAST(%(last_user)s AS INTEGER)
          AND song_id IS NOT NULL),
    (SELECT COUNT(*) FROM users
        WHERE user_id BETWEEN CAST(%(first_user)s AS INTEGER) AND CAST(%(last_user)s AS INTEGER)),
    (SELECT COUNT(*) FROM songs WHERE song_id LIKE CAST(%(song_ids)s AS VARCHAR(64))),
    (SELECT COUNT(*) FROM artists WHERE artist_id LIKE CAST(%(artist_ids)s AS VARCHAR(64))),
    (SELECT COUNT(*) FROM time WHERE start_time IN (SELECT p.start_time FROM songplays AS p
        WHERE p.user_id BETWEEN CAST(%(first_user)s AS INTEGER) AND CAST(%(last_user)s AS INTEGER)));
