-- Empties a reference table between timed COPY repeats.
-- Local benchmark only (PostgreSQL).
TRUNCATE {table};
