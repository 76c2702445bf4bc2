-- Write the merge's artists, one per artist_id, the newest load's song file winning.
-- An empty location is no location.
INSERT INTO work_artists (merge_id, artist_id, name, location, latitude, longitude)
SELECT CAST(%(merge_id)s AS VARCHAR(32)), artist_id, name, location, latitude, longitude
FROM (
    SELECT s.artist_id, s.artist_name AS name, NULLIF(s.artist_location, '') AS location,
           s.artist_latitude AS latitude, s.artist_longitude AS longitude,
           ROW_NUMBER() OVER (
               PARTITION BY s.artist_id
               ORDER BY l.staged_at DESC, s.song_id
           ) AS recency
    FROM staging_songs AS s
    JOIN ({claimed_loads}) AS l ON l.load_id = s.load_id
    WHERE s.artist_id IS NOT NULL
) AS ranked
WHERE recency = 1;
