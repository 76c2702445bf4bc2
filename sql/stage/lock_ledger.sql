-- First statement of every transaction that writes the ledger (stage, finalize): one writer at a
-- time, then tables in one order everywhere: load_ledger, staging_events, staging_songs.
LOCK load_ledger;
-- Under SNAPSHOT isolation two batches holding the same S3 event could otherwise both miss it in
-- the ledger; under SERIALIZABLE the loser waits here instead of aborting with 1023.
