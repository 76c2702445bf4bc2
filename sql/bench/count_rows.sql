-- Counts a table's rows.
-- Local benchmark only.
SELECT COUNT(*) FROM {table};
