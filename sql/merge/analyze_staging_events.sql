-- Fresh statistics for the staging tables before a merge reads them (bulk loads since the
-- last automatic analyze would otherwise leave the planner guessing).
ANALYZE staging_events;
