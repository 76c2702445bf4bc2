-- One row per S3 object version seen (bucket, key, etag), written in the same transaction as the
-- staging rows it describes. status: staged | rejected | superseded | missing | merged.
CREATE TABLE IF NOT EXISTS load_ledger (
    bucket      VARCHAR(63)   NOT NULL,
    key         VARCHAR(1024) NOT NULL,
    etag        VARCHAR(128)  NOT NULL,
    version_id  VARCHAR(1024),
    dataset     VARCHAR(16)   NOT NULL,
    size        BIGINT,
    status      VARCHAR(16)   NOT NULL,
    rows        BIGINT,
    error       VARCHAR(4096),
    load_id     VARCHAR(32)   NOT NULL,
    -- The file's number within its load and dataset, as its staging rows carry it (NULL: the
    -- engine could not tell the load's files apart, see README "Corrected files").
    file_no     INTEGER,
    event_time  TIMESTAMP,
    staged_at   TIMESTAMP     NOT NULL,
    merge_id    VARCHAR(32),
    merged_at   TIMESTAMP
)
DISTSTYLE ALL
-- Zone maps keep a VARCHAR's first 8 bytes and every key starts "log_data" or "song_data", so a
-- key sort key prunes nothing; etags are hex digests, spread evenly, and the stage's lookup
-- (find_loaded_versions.sql) filters on the batch's etags.
SORTKEY (etag);
