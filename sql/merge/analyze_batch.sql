-- Fresh statistics for a just-built batch table: without them the planner guesses tiny counts
-- and picks nested loops that make the join cost follow the table instead of the batch.
ANALYZE {batch_table};
