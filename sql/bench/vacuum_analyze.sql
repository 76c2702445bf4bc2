-- Settles a table before a timed run: dead rows reclaimed, statistics fresh.
-- Local benchmark only (PostgreSQL; outside any transaction).
VACUUM ANALYZE {table};
