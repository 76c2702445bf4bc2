-- One merge at a time: the running merge holds this row until it finishes or the lease
-- expires (a crashed run never wedges the pipeline). Written under serializable isolation.
CREATE TABLE IF NOT EXISTS merge_lease (
    name       VARCHAR(16) NOT NULL,
    merge_id   VARCHAR(32) NOT NULL,
    started_at TIMESTAMP   NOT NULL,
    expires_at TIMESTAMP   NOT NULL
)
DISTSTYLE ALL;
