-- Merge on arrival: at most one row, "an execution was started (or is waiting) for what is
-- staged". A stage batch starts one only when no fresh row is here; the lease step clears it.
CREATE TABLE IF NOT EXISTS merge_requests (
    name         VARCHAR(16)  NOT NULL,
    requested_at TIMESTAMP    NOT NULL,
    execution    VARCHAR(80)  NOT NULL
)
DISTSTYLE ALL;
