-- Exports a staging table's rows as COPY text, for the raw-COPY reference (untimed).
-- Local benchmark only (PostgreSQL).
COPY (SELECT * FROM {table}) TO STDOUT;
