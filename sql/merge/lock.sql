-- First statement of every merge transaction but the lease's (write, audit, publish, finalize,
-- fail, dry run): the ledger, then the lease, in the order the lease and the stage take them.
LOCK load_ledger, merge_lease;
-- Before any read: under SNAPSHOT isolation the snapshot is taken at the first read, so a read
-- first would miss a stage batch or a new lease that committed while this waited, and holding
-- merge_lease while waiting for load_ledger crosses the lease's order (deadlock, 40P01).
