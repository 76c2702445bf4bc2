-- Whether a table of the current schema has the column (a migration adds it only if not).
SELECT COUNT(*) FROM information_schema.columns
WHERE table_schema = current_schema()
  AND table_name = %(table)s
  AND column_name = %(column)s;
