-- Keeps a copy of a staging table for the rebuild (the merge deletes what it merged).
-- Local benchmark only.
CREATE TABLE {copy} AS SELECT * FROM {table};
