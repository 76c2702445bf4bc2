-- How many rows a step's de-duplicated batch table holds.
SELECT COUNT(*) FROM {batch_table};
