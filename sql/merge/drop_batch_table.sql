-- Drop a step's de-duplicated batch table left by an earlier invocation on this connection
-- (Lambda reuses connections; Redshift has no ON COMMIT DROP).
DROP TABLE IF EXISTS {batch_table};
