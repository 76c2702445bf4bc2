-- Fresh statistics for a work table a step just wrote (INSERT ... SELECT, unlike CREATE TABLE
-- AS, is not analyzed at once): without them the planner picks nested loops that follow the table.
ANALYZE {work_table};
