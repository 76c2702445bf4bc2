-- COPY one batch of log files (listed in a manifest) with the JSONPaths mapping; ts arrives as
-- epoch milliseconds. {bad_rows}: load, failing on the first bad row, or only diagnose.
COPY {copy_target} (
    artist, auth, first_name, gender, item_in_session, last_name, length, level, location,
    method, page, registration, session_id, song, status, ts, user_agent, user_id
)
FROM {manifest_uri}
IAM_ROLE {copy_role_arn}
MANIFEST
FORMAT AS JSON {jsonpaths_uri}
TIMEFORMAT 'epochmillisecs'
EMPTYASNULL
COMPUPDATE OFF
STATUPDATE OFF
{bad_rows};
