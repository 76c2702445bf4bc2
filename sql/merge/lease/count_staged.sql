-- What a merge would claim now: staged files and their loads (merged ones are done).
SELECT COUNT(*), COUNT(DISTINCT load_id) FROM load_ledger WHERE status = 'staged';
