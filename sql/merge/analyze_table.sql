-- Fresh statistics for a batch table a step just built: without them the planner guesses
-- tiny counts and picks nested loops that make the join cost follow the table, not the batch.
ANALYZE {table};
