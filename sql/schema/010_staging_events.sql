-- Staging for user-activity logs: one row per JSON line, columns in the JSONPaths order
-- (sql/copy/events_jsonpaths.json). load_id names the stage transaction that wrote the row.
CREATE TABLE IF NOT EXISTS staging_events (
    artist          VARCHAR(1024),
    auth            VARCHAR(64),
    first_name      VARCHAR(256),
    gender          VARCHAR(16),
    item_in_session INTEGER,
    last_name       VARCHAR(256),
    length          DOUBLE PRECISION,
    level           VARCHAR(16),
    location        VARCHAR(1024),
    method          VARCHAR(16),
    page            VARCHAR(64),
    registration    DOUBLE PRECISION,
    session_id      INTEGER,
    song            VARCHAR(1024),
    status          INTEGER,
    ts              TIMESTAMP,
    user_agent      VARCHAR(1024),
    user_id         INTEGER,
    load_id         VARCHAR(32),
    -- Which file of the load (load_ledger.file_no): a corrected file's old rows can be found.
    file_no         INTEGER
)
-- No sort key: staging holds only unmerged loads and is read whole by each merge, so an
-- ordering (an index, locally) would only slow the bulk loads and steer plans to random reads.
DISTSTYLE EVEN;
