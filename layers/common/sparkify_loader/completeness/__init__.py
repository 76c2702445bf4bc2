"""The completeness of loading: every object the landing bucket announces is in the ledger, in
flight, or unaccounted (``reconcile``), and what the ledger never saw can be announced again
(``backfill``). Used by the ``sparkify`` CLI (local and deployed stacks) and by the scheduled
Reconcile function.
"""
