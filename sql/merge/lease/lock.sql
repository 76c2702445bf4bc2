-- First statement of the lease transaction: one lease attempt at a time, the ledger first as
-- every writer of it takes it (sql/stage/lock_ledger.sql), and merge requests (arrival.py).
LOCK load_ledger, merge_lease, merge_requests;
-- The lease is an INSERT guarded only by reading merge_lease first: under SNAPSHOT isolation two
-- merges starting together would both read it empty and both take it. A stage batch's merge
-- request (arrival.py) is either seen by this lease or sees its outcome.
