-- COPY one batch of song files (listed in a manifest); JSON keys match the column names.
-- Literals are quoted by the engine; MAXERROR 0 so a bad file is named.
COPY {copy_target} (
    num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name,
    song_id, title, duration, year
)
FROM {manifest_uri}
IAM_ROLE {copy_role_arn}
MANIFEST
FORMAT AS JSON 'auto'
EMPTYASNULL
MAXERROR 0
COMPUPDATE OFF
STATUPDATE OFF
{noload};
