-- Empties every table of the local warehouse (tests and benchmarks start from nothing).
-- Local only: on Redshift TRUNCATE commits the open transaction; it never runs there.
TRUNCATE {tables};
