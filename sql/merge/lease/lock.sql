-- First statement of the lease transaction: one lease attempt at a time, the ledger first as
-- every writer of it takes it (sql/stage/lock_ledger.sql), and merge requests (arrival.py).
LOCK load_ledger, merge_lease, merge_requests;
