-- One row per merge run that claimed loads: what it merged and how it ended
-- (running | succeeded | failed), for `sparkify status` and the operators' runbook.
CREATE TABLE IF NOT EXISTS merge_runs (
    merge_id     VARCHAR(32)  NOT NULL,
    execution    VARCHAR(256),
    started_at   TIMESTAMP    NOT NULL,
    finished_at  TIMESTAMP,
    status       VARCHAR(16)  NOT NULL,
    files        BIGINT,
    loads        BIGINT,
    error        VARCHAR(4096)
)
DISTSTYLE ALL
SORTKEY (started_at);
