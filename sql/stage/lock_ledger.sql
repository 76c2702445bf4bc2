-- First statement of every transaction that writes the ledger (stage, finalize): one writer at
-- a time, so under SNAPSHOT isolation two batches holding the same S3 event cannot both miss it
-- in the ledger, and under SERIALIZABLE the loser waits instead of aborting with 1023. Tables
-- are then written in one order everywhere: load_ledger, staging_events, staging_songs.
LOCK load_ledger;
