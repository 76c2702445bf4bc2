-- Fragment: the merge's plays, one per natural key (session, item in session, user), the newest
-- load's version winning. songplay_id is md5 of that key, so a reload never adds a row.
SELECT songplay_id, start_time, user_id, level, session_id, location, user_agent,
       item_in_session, song_title, artist_name, song_length,
       -- How many staged events the play stands for: the audit's proof that none was lost.
       events,
       -- The object version (ledger load and file) the winning event came from.
       source_load, source_file
FROM (
    SELECT MD5(CAST(e.session_id AS VARCHAR) || '|' || CAST(e.item_in_session AS VARCHAR)
               || '|' || COALESCE(CAST(e.user_id AS VARCHAR), '')) AS songplay_id,
           e.ts AS start_time, e.user_id, e.level, e.session_id, e.location, e.user_agent,
           e.item_in_session, e.song AS song_title, e.artist AS artist_name,
           e.length AS song_length,
           ROW_NUMBER() OVER (
               PARTITION BY e.session_id, e.item_in_session, e.user_id
               ORDER BY e.staged_at DESC, e.ts DESC
           ) AS recency,
           COUNT(*) OVER (PARTITION BY e.session_id, e.item_in_session, e.user_id) AS events,
           e.load_id AS source_load, e.file_no AS source_file
    FROM ({staged_plays}) AS e
) AS ranked
WHERE recency = 1
