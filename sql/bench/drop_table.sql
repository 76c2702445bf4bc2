-- Drops one of the benchmark's scratch tables, if a run left it.
-- Local benchmark only.
DROP TABLE IF EXISTS {table};
