-- Materialize the merge's de-duplicated plays once per step that needs them more than once
-- (songplays, quality checks), so the planner sees real row counts (see analyze_table.sql).
CREATE TEMP TABLE plays_batch AS
{batch_plays};
