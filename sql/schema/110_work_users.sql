-- Write-audit-publish: the merge's users, written once per merge (keyed by merge_id), audited,
-- then published. Real tables, not temp tables: temp tables die with each step's session.
CREATE TABLE IF NOT EXISTS work_users (
    merge_id   VARCHAR(32) NOT NULL,
    user_id    INTEGER     NOT NULL,
    first_name VARCHAR(256),
    last_name  VARCHAR(256),
    gender     VARCHAR(16),
    level      VARCHAR(16),
    level_ts   TIMESTAMP
)
DISTSTYLE ALL;
