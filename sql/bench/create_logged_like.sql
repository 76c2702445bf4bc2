-- A logged table defined like a staging table, indexes included: what the stage path writes.
-- Local benchmark only (PostgreSQL).
CREATE TABLE {copy} (LIKE {table} INCLUDING ALL);
