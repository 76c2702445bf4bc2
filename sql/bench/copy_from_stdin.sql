-- The reference: a raw COPY of the exported rows.
-- Local benchmark only (PostgreSQL).
COPY {table} FROM STDIN;
