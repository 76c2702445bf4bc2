-- A TEMP table shaped like a staging table: no WAL, no index (the COPY reference's floor).
-- Local benchmark only (PostgreSQL).
CREATE TEMP TABLE {copy} (LIKE {table});
