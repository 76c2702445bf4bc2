-- COPY one batch of log files (listed in a manifest) with the JSONPaths mapping; ts arrives as
-- epoch milliseconds. Literals are quoted by the engine; MAXERROR 0 so a bad file is named.
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
MAXERROR 0
COMPUPDATE OFF
STATUPDATE OFF
{noload};
