-- COPY one batch of song files (listed in a manifest); JSON keys match the column names.
-- {bad_rows}: load, failing on the first bad row, or only diagnose.
COPY {copy_target} (
    num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name,
    song_id, title, duration, year
)
FROM {manifest_uri}
IAM_ROLE {copy_role_arn}
MANIFEST
FORMAT AS JSON 'auto'
EMPTYASNULL
COMPUPDATE OFF
STATUPDATE OFF
{bad_rows};
