-- Adds a staging table's rows to the copy kept for the rebuild.
-- Local benchmark only.
INSERT INTO {copy} SELECT * FROM {table};
