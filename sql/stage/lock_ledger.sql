-- First statement of the stage transaction (merge transactions take sql/merge/lock.sql): one
-- ledger writer at a time, then one table order: load_ledger, staging_events, staging_songs.
LOCK load_ledger;
-- Under SNAPSHOT isolation two batches holding the same S3 event could otherwise both miss it in
-- the ledger; under SERIALIZABLE the loser waits here instead of aborting with 1023.
