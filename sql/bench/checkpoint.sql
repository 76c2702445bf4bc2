-- Writes the previous run's dirty pages out, so the next timed run does not pay for them.
-- Local benchmark only (PostgreSQL).
CHECKPOINT;
