-- First statement of the lease transaction: one lease attempt at a time, tables in the order
-- every writer of the ledger takes them (sql/stage/lock_ledger.sql): load_ledger first.
LOCK load_ledger, merge_lease;
-- The lease is an INSERT guarded only by reading merge_lease first: under SNAPSHOT isolation two
-- merges starting together would both read it empty and both take it.
