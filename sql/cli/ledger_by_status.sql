-- `sparkify status`: files and rows per dataset and ledger status.
-- One row per (dataset, status) pair that occurs.
SELECT dataset, status, COUNT(*), COALESCE(SUM(rows), 0)
FROM load_ledger
GROUP BY dataset, status
ORDER BY dataset, status;
